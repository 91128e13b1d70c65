"""Python's cyclic garbage collector, run on the GUI thread only.

Left automatic, the collector runs on whichever thread happens to allocate: the database
worker, the sync thread, APScheduler's pool. Freeing a cycle that holds a PySide object
there takes a Qt lock while holding the GIL, and the GUI thread may hold the GIL waiting
for that Qt lock: a deadlock (seen under gdb in a test run). So while any background
thread of the app lives, automatic collection is off and a GUI-thread timer collects with
the interpreter's own thresholds (the recipe PyQt applications use).
"""

from __future__ import annotations

import gc

from PySide6.QtCore import QObject, QTimer

CHECK_INTERVAL_MS = 500


class GuiThreadCollector(QObject):
    """Collect on the GUI thread, generation by generation, as gc itself would."""

    _holders = 0
    _was_enabled = True

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._active = False
        self._timer = QTimer(self)
        self._timer.setInterval(CHECK_INTERVAL_MS)
        self._timer.timeout.connect(self.check)

    def start(self) -> None:
        if self._active:
            return
        self._active = True
        if GuiThreadCollector._holders == 0:
            GuiThreadCollector._was_enabled = gc.isenabled()
            gc.disable()
        GuiThreadCollector._holders += 1
        self._timer.start()

    def stop(self) -> None:
        """Back to automatic collection once no holder is left (idempotent)."""
        if not self._active:
            return
        self._active = False
        self._timer.stop()
        GuiThreadCollector._holders -= 1
        if GuiThreadCollector._holders == 0:
            self.check()
            if GuiThreadCollector._was_enabled:
                gc.enable()

    def check(self) -> None:
        first, second, third = gc.get_threshold()
        young, middle, old = gc.get_count()
        if young > first:
            gc.collect(0)
            if middle > second:
                gc.collect(1)
                if old > third:
                    gc.collect(2)
