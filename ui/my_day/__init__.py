"""Ma journée: the day's call list, the call workflow, the paper sheet, the timed jobs."""

from ui.my_day.page import MyDayPage, install_my_day

__all__ = ["MyDayPage", "install_my_day"]
