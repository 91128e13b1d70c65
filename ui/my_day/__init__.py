"""Ma journée: the day's call list, the call workflow, the paper sheet, the timed jobs."""

from ui.my_day.install import install_my_day
from ui.my_day.page import MyDayPage

__all__ = ["MyDayPage", "install_my_day"]
