"""Prevention: rules as data, the reminder engine, stored reminders and the day's call list."""
