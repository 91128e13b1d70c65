"""A small bar chart drawn with QPainter: grouped or stacked bars, values written on them.

No chart library: PySide6-Essentials has no QtCharts, and these charts need only bars,
a value axis and a legend. `paint_chart` draws on any QPainter (the widget, a PNG, the
PDF report's page), so the screen and the paper show the same picture.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from PySide6.QtCore import QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QFontMetricsF, QPainter, QPaintEvent, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

# Calm, distinguishable colours (colour-blind safe pairs: blue / orange, teal / grey).
BLUE = "#4a7db3"
LIGHT_BLUE = "#a9c4e0"
ORANGE = "#d9894a"
TEAL = "#4f9a8f"
SAND = "#e3c98f"
GREY = "#b5b5b5"
ROSE = "#c77b8b"
INK = "#333333"
GRID = "#e4e4e4"


@dataclass(frozen=True)
class Series:
    name: str
    colour: str
    values: tuple[float, ...]


@dataclass(frozen=True)
class ChartData:
    title: str
    categories: tuple[str, ...]
    series: tuple[Series, ...]
    stacked: bool = False
    percent: bool = False  # values are shares 0..1, the axis reads 0-100 %
    notes: tuple[str, ...] = ()  # under each category's value (e.g. "12 / 20")
    empty_text: str = "Aucune donnée sur la période"
    labels: tuple[str, ...] = field(default=())  # value written on each category
    whole: bool = True  # counts: the axis shows whole numbers
    zero_labels: bool = True  # write 0 over an empty category (not on a long time axis)

    def totals(self) -> list[float]:
        if self.stacked:
            return [sum(s.values[i] for s in self.series) for i in range(len(self.categories))]
        return [max((s.values[i] for s in self.series), default=0)
                for i in range(len(self.categories))]


def _nice_top(value: float, *, whole: bool) -> float:
    """A round axis maximum at or above `value` whose quarters are round too (1, 1.5, 2, 2.5,
    3, 4, 5, 6 or 8 times a power of ten; whole numbers when the values are counts)."""
    quarter = max(value / 4, 1.0 if whole else 1e-9)
    power = 10 ** math.floor(math.log10(quarter))
    for step in (1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10):
        size = step * power
        if whole and size < 1:
            continue
        if whole and size != int(size):
            continue
        if size >= quarter:
            return float(4 * size)
    return float(40 * power)


def _number(value: float, percent: bool) -> str:
    if percent:
        return f"{100 * value:.0f} %"
    return f"{value:,.0f}".replace(",", "\u202f")


def paint_chart(painter: QPainter, rect: QRectF, data: ChartData, *,
                points: float = 9) -> None:
    """Draw `data` inside `rect`: title, legend, value axis, bars with their values."""
    painter.save()
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.fillRect(rect, QColor("white"))
    font = QFont(painter.font())
    font.setPointSizeF(points)
    painter.setFont(font)
    metrics = QFontMetricsF(font, painter.device())
    line = metrics.height()
    pad = line * 0.6

    title_font = QFont(font)
    title_font.setPointSizeF(points * 1.2)
    title_font.setBold(True)
    painter.setFont(title_font)
    painter.setPen(QColor(INK))
    title_height = QFontMetricsF(title_font, painter.device()).height()
    painter.drawText(QRectF(rect.left() + pad, rect.top() + pad / 2, rect.width() - 2 * pad,
                            title_height), Qt.AlignmentFlag.AlignLeft, data.title)
    painter.setFont(font)
    top = rect.top() + pad / 2 + title_height + pad / 2

    # Legend, one line, when there is more than one series.
    if len(data.series) > 1:
        x = rect.left() + pad
        for s in data.series:
            painter.fillRect(QRectF(x, top + line * 0.2, line * 0.8, line * 0.6), QColor(s.colour))
            x += line
            painter.setPen(QColor(INK))
            painter.drawText(QPointF(x, top + metrics.ascent()), s.name)
            x += metrics.horizontalAdvance(s.name) + line
        top += line * 1.3

    count = len(data.categories)
    totals = data.totals()
    if count == 0 or not any(totals):
        painter.setPen(QColor("#777777"))
        painter.drawText(QRectF(rect.left(), top, rect.width(), rect.bottom() - top),
                         Qt.AlignmentFlag.AlignCenter, data.empty_text)
        painter.restore()
        return

    axis_top = 1.0 if data.percent else _nice_top(max(totals), whole=data.whole)
    axis_width = metrics.horizontalAdvance(_number(axis_top, data.percent)) + pad
    label_rows = 2 if data.notes else 1
    plot = QRectF(rect.left() + pad + axis_width, top + line,
                  rect.width() - 2 * pad - axis_width,
                  rect.bottom() - top - line - pad - line * (label_rows + 0.3))
    # Grid and axis values.
    for step in range(5):
        value = axis_top * step / 4
        y = plot.bottom() - plot.height() * step / 4
        painter.setPen(QPen(QColor(GRID), 1))
        painter.drawLine(QPointF(plot.left(), y), QPointF(plot.right(), y))
        painter.setPen(QColor("#666666"))
        painter.drawText(QRectF(rect.left() + pad, y - line / 2, axis_width - pad / 2, line),
                         Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
                         _number(value, data.percent))

    slot = plot.width() / count
    groups = 1 if data.stacked else len(data.series)
    bar = min(slot * 0.7 / groups, line * 4)
    label_every = max(1, math.ceil(count / max(1.0, plot.width() / (line * 3.2))))
    for i, category in enumerate(data.categories):
        left = plot.left() + slot * i + (slot - bar * groups) / 2
        base = plot.bottom()
        for j, s in enumerate(data.series):
            value = s.values[i]
            height = plot.height() * min(value / axis_top, 1.0)
            x = left if data.stacked else left + j * bar
            y = base - height if data.stacked else plot.bottom() - height
            if height > 0:
                painter.fillRect(QRectF(x, y, bar - 1, height), QColor(s.colour))
            if data.stacked:
                base -= height
            elif count <= 16 and (value or data.zero_labels):  # grouped: each its value
                painter.setPen(QColor(INK))
                painter.drawText(QRectF(x - line, y - line, bar + 2 * line, line),
                                 Qt.AlignmentFlag.AlignCenter, _number(value, data.percent))
        if data.stacked and count <= 16 and (totals[i] or data.zero_labels):
            painter.setPen(QColor(INK))
            text = data.labels[i] if data.labels else _number(totals[i], data.percent)
            painter.drawText(QRectF(left - line, base - line, bar + 2 * line, line),
                             Qt.AlignmentFlag.AlignCenter, text)
        if i % label_every == 0:
            painter.setPen(QColor(INK))
            painter.drawText(QRectF(plot.left() + slot * (i - (label_every - 1) / 2),
                                    plot.bottom() + line * 0.2, slot * label_every, line),
                             Qt.AlignmentFlag.AlignCenter,
                             metrics.elidedText(category, Qt.TextElideMode.ElideRight,
                                                slot * label_every - 2))
            if data.notes:
                painter.setPen(QColor("#666666"))
                painter.drawText(QRectF(plot.left() + slot * i, plot.bottom() + line * 1.2,
                                        slot, line), Qt.AlignmentFlag.AlignCenter,
                                 data.notes[i])
    painter.setPen(QPen(QColor("#999999"), 1))
    painter.drawLine(QPointF(plot.left(), plot.bottom()), QPointF(plot.right(), plot.bottom()))
    painter.restore()


class BarChart(QWidget):
    """The chart as a widget; `set_data` replaces what it shows."""

    def __init__(self, data: ChartData, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._data = data
        self.setMinimumSize(320, 220)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    @property
    def data(self) -> ChartData:
        return self._data

    def set_data(self, data: ChartData) -> None:
        self._data = data
        self.setAccessibleName(data.title)
        self.update()

    def categories(self) -> Sequence[str]:
        return self._data.categories

    def values(self, series: str) -> tuple[float, ...]:
        return next(s.values for s in self._data.series if s.name == series)

    def sizeHint(self) -> QSize:
        return QSize(520, 300)

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        paint_chart(painter, QRectF(self.rect()), self._data)
        painter.end()
