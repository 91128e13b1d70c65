"""The practitioner directory: the search screen and the printable list of practitioners."""
