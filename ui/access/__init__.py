"""Who is at the keyboard: sign-in, inactivity lock, break the glass, users and reassignment."""
