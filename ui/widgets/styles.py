"""Style sheets shared by the forms and dialogs: a field's error, a form's error banner."""

ERROR_STYLE = "color: #b00020;"
BANNER_STYLE = ("color: #b00020; background: #fdecea; border: 1px solid #f5c2c0;"
                " border-radius: 4px; padding: 6px;")
