"""Tableau de bord (Ctrl+4): the supervisor's view of her team's workload and coverage.

Four charts (caseload size by fragility, reminders overdue, calls per week reached or not,
screening and vaccination coverage with numerator/denominator) over two tables, a period
and a team filter, and exports to PDF (the team's annual report) and CSV. The figures come
from carehub.workload on the worker thread; a care manager sees her own figures only.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any, ClassVar

from PySide6.QtCore import QDate, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QFont, QPainter, QShowEvent, QTextDocument
from PySide6.QtWidgets import (
    QComboBox,
    QDateEdit,
    QFileDialog,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)
from sqlmodel import Session

from carehub.errors import CareHubError
from carehub.prevention.rules import load_rules
from carehub.sync.settings import HubSettings, hub_settings
from carehub.workload.coverage_cache import refresh_coverage_cache
from carehub.workload.hub import hub_workload
from carehub.workload.service import (
    COVERAGE_CODES,
    FRAGILITY_KEYS,
    Figures,
    Workload,
    care_managers,
    default_period,
    weekly_start,
    workload,
)
from ui.context import AppContext
from ui.dashboard.charts import (
    BLUE,
    GREY,
    LIGHT_BLUE,
    ORANGE,
    SAND,
    TEAL,
    BarChart,
    ChartData,
    Series,
    paint_chart,
)
from ui.formatting import format_date, french_csv
from ui.paper import (
    FONT_FAMILY,
    NO_BREAK_HYPHEN,
    a4_layout,
    keep_whole,
    pdf_writer,
    text_document,
)
from ui.rows_model import RowsModel
from ui.tables import row_table
from ui.worker import DatabaseWorker

FRAGILITY_NAMES = {"0": "Robuste", "1": "Pré-fragile", "2": "Fragile", "3": "Très fragile",
                   "unknown": "Non évalué"}
FRAGILITY_COLOURS = {"0": LIGHT_BLUE, "1": TEAL, "2": BLUE, "3": ORANGE, "unknown": GREY}
COVERAGE_SHORT = {"screening.breast": "Sein", "screening.colorectal": "Côlon-rectum",
                  "screening.cervical": "Col de l'utérus", "vaccine.flu": "Grippe"}
ALL_TEAM = ""
LOCAL_SOURCE = "local"
COVERAGE_JOB = "dashboard-coverage"
COVERAGE_HOUR, COVERAGE_MINUTE = 5, 30  # after Ma journée's start of day (5:00)
COVERAGE_STARTUP_DELAY = timedelta(minutes=2)


def _share(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.0f} %"


def _minutes(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest:02d}"


# ------------------------------------------------------------------------------ charts


def caseload_chart(found: Workload) -> ChartData:
    people = found.managers
    return ChartData(
        title="Patients suivis par IDE coordinatrice (niveau de fragilité)",
        categories=tuple(f.display_name for f in people),
        series=tuple(Series(FRAGILITY_NAMES[k], FRAGILITY_COLOURS[k],
                            tuple(float(f.by_fragility.get(k, 0)) for f in people))
                     for k in FRAGILITY_KEYS),
        stacked=True, empty_text="Aucun patient suivi")


def overdue_chart(found: Workload) -> ChartData:
    people = found.managers
    return ChartData(
        title=f"Rappels en retard au {format_date(found.date_to)}",
        categories=tuple(f.display_name for f in people),
        series=(Series("Rappels en retard", ORANGE, tuple(float(f.overdue) for f in people)),),
        empty_text="Aucun rappel en retard")


def weeks(found: Workload) -> list[date]:
    first = weekly_start(found.date_from, found.date_to)
    count = (found.date_to - first).days // 7 + 1
    return [first + timedelta(weeks=i) for i in range(count)]


def weekly_chart(found: Workload) -> ChartData:
    mondays = weeks(found)
    calls = dict.fromkeys(mondays, 0)
    reached = dict.fromkeys(mondays, 0)
    for w in found.weekly:
        if w.week in calls:
            calls[w.week] += w.calls
            reached[w.week] += w.reached
    return ChartData(
        title="Appels par semaine",
        categories=tuple(m.strftime("%d/%m") for m in mondays),
        series=(Series("Joints", TEAL, tuple(float(reached[m]) for m in mondays)),
                Series("Non joints", SAND, tuple(float(calls[m] - reached[m])
                                                 for m in mondays))),
        stacked=True, zero_labels=False, empty_text="Aucun appel sur ces semaines")


def coverage_chart(found: Workload) -> ChartData:
    rates = [found.team.coverage[c] for c in COVERAGE_CODES if c in found.team.coverage]
    if not rates:
        return ChartData(title="Couverture des dépistages et vaccinations", categories=(),
                         series=(), empty_text="Non disponible depuis cette source")
    return ChartData(
        title=f"Couverture des patients éligibles au {format_date(found.date_to)}",
        categories=tuple(COVERAGE_SHORT.get(r.code, r.code) for r in rates),
        series=(Series("À jour", BLUE, tuple(r.rate or 0.0 for r in rates)),),
        percent=True, notes=tuple(f"{r.numerator} / {r.denominator}" for r in rates),
        empty_text="Aucun patient éligible")


def charts(found: Workload) -> list[ChartData]:
    return [caseload_chart(found), overdue_chart(found), weekly_chart(found),
            coverage_chart(found)]


# ------------------------------------------------------------------------------ tables


MANAGER_COLUMNS = ("IDE coordinatrice", "Patients", "Robustes", "Pré-fragiles", "Fragiles",
                   "Très fragiles", "Non évalués", "Rappels en retard", "Appels", "Joints",
                   "Part jointe", "Durée moyenne", "Orientations pro.", "Actions")
COVERAGE_COLUMNS = ("Indicateur", "Éligibles", "À jour", "Taux", "Mesuré le")


def manager_cells(f: Figures) -> tuple[str, ...]:
    return (f.display_name, str(f.patients),
            *(str(f.by_fragility.get(k, 0)) for k in FRAGILITY_KEYS), str(f.overdue),
            str(f.calls), str(f.reached), _share(f.reached_share),
            _minutes(f.average_call_s), str(f.referrals), str(sum(f.actions.values())))


def coverage_rows(found: Workload) -> list[tuple[str, ...]]:
    return [(r.label_fr, str(r.denominator), str(r.numerator), _share(r.rate),
             format_date(r.as_of)) for r in found.team.coverage.values()]


class ManagersModel(RowsModel):
    """One row per care manager, the team's total last."""

    COLUMNS: ClassVar[tuple[str, ...]] = MANAGER_COLUMNS
    CONTEXT: ClassVar[str] = "ManagersModel"

    def cells(self, item: Any) -> tuple[str, ...]:
        return manager_cells(item)

    def cell_data(self, item: Any, column: int, role: int) -> Any:
        if role == Qt.ItemDataRole.TextAlignmentRole and column > 0:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.FontRole and item.user == "team":
            font = QFont()
            font.setBold(True)
            return font
        return None


class CoverageModel(RowsModel):
    COLUMNS: ClassVar[tuple[str, ...]] = COVERAGE_COLUMNS
    CONTEXT: ClassVar[str] = "CoverageModel"

    def cells(self, item: Any) -> tuple[str, ...]:
        return tuple(item)

    def cell_data(self, item: Any, column: int, role: int) -> Any:
        if role == Qt.ItemDataRole.TextAlignmentRole and column > 0:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None


# ------------------------------------------------------------------------------ exports


def period_text(found: Workload) -> str:
    return f"du {format_date(found.date_from)} au {format_date(found.date_to)}"


def csv_bytes(found: Workload) -> bytes:
    """The figures for a spreadsheet: per care manager and the team, coverage, weeks."""
    rows: list[Sequence[object]] = [["Période", format_date(found.date_from),
                                     format_date(found.date_to)], [], list(MANAGER_COLUMNS)]
    rows += [manager_cells(f) for f in [*found.managers, found.team]]
    if found.team.coverage:
        rows += [[], list(COVERAGE_COLUMNS), *coverage_rows(found)]
    rows += [[], ["Semaine du", "Appels", "Joints"]]
    data = weekly_chart(found)
    reached, missed = data.series[0].values, data.series[1].values
    for monday, ok, ko in zip(weeks(found), reached, missed, strict=True):
        rows.append([format_date(monday), str(int(ok + ko)), str(int(ok))])
    return french_csv(rows)


def tables_html(found: Workload) -> str:
    """The report's tables: headers wrap between their words only, a figure, a duration
    ("12 min 05"), a share ("67 %") or a date is never broken."""
    e = html.escape

    def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
        head = "".join(f"<th align='{'left' if i == 0 else 'right'}'>"
                       f"{e(h).replace('-', NO_BREAK_HYPHEN)}</th>"  # Pré-fragiles whole
                       for i, h in enumerate(headers))
        body = "".join("<tr>" + "".join(
            f"<td align='{'left' if i == 0 else 'right'}'>"
            f"{e(c) if i == 0 else keep_whole(c)}</td>"
            for i, c in enumerate(row)) + "</tr>" for row in rows)
        return ("<table width='100%' cellspacing='0' cellpadding='4' border='1' "
                "style='border-collapse: collapse; border-color: #999'>"
                f"<thead><tr>{head}</tr></thead>{body}</table>")
    parts = [f"<h2>Charge de travail {e(period_text(found))}</h2>",
             table(MANAGER_COLUMNS, [manager_cells(f) for f in [*found.managers, found.team]])]
    if found.team.coverage:
        parts += ["<h2>Couverture des patients éligibles</h2>",
                  table(COVERAGE_COLUMNS, coverage_rows(found)),
                  "<p><i>Éligibles : patients suivis concernés par la recommandation à la "
                  "date de mesure ; à jour : à qui rien n'est dû à cette date. La grippe "
                  "se mesure pendant la campagne (à défaut, à la fin de la dernière)."
                  "</i></p>"]
    return "".join(parts)


def paint_first_page(painter: QPainter, page: QRectF, found: Workload, *, title: str) -> None:
    """The report's first page: its title and period over the four charts (2 x 2)."""
    font = QFont(FONT_FAMILY)
    font.setPointSizeF(16)
    font.setBold(True)
    painter.setFont(font)
    painter.setPen(QColor("#333333"))
    head = page.height() * 0.07
    painter.drawText(QRectF(page.left(), page.top(), page.width(), head),
                     Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                     f"{title} — {period_text(found)}")
    font.setPointSizeF(9)
    font.setBold(False)
    painter.setFont(font)
    gap = page.width() * 0.015
    cell_w, cell_h = (page.width() - gap) / 2, (page.height() - head - gap) / 2
    for index, data in enumerate(charts(found)):
        row, column = divmod(index, 2)
        paint_chart(painter, QRectF(page.left() + column * (cell_w + gap),
                                    page.top() + head + row * (cell_h + gap), cell_w, cell_h),
                    data, points=9)


def write_pdf(found: Workload, path: Path, *, title: str) -> int:
    """The report: the four charts on an A4 landscape page, then the tables. Pages."""
    writer = pdf_writer(path, title=title, layout=a4_layout(landscape=True, margins_mm=12))
    page = QRectF(writer.pageLayout().paintRectPixels(writer.resolution()))
    page.moveTo(0, 0)
    painter = QPainter(writer)
    paint_first_page(painter, page, found, title=title)
    text: QTextDocument = text_document(tables_html(found), points=9, device=writer)
    text.setPageSize(page.size())
    pages = text.pageCount()
    for number in range(pages):
        writer.newPage()
        painter.save()
        painter.translate(0, -number * page.height())
        text.drawContents(painter, QRectF(0, number * page.height(), page.width(),
                                          page.height()))
        painter.restore()
    painter.end()
    return 1 + pages


# ------------------------------------------------------------------------------ the page


@dataclass(frozen=True)
class Query:
    date_from: date
    date_to: date
    users: tuple[str, ...] | None


class Dashboard(QWidget):
    """The page; `reload()` reads the figures for the filters on the worker."""

    loaded = Signal(object)  # the Workload shown
    exported = Signal(str)  # the file written
    failed = Signal(str)

    def __init__(self, worker: DatabaseWorker, *, user: str, today: date | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.worker, self.user = worker, user
        self.found: Workload | None = None
        self._generation = 0
        self._started = False
        self.today = today or date.today()
        first, last = default_period(self.today)

        self.from_edit, self.to_edit = QDateEdit(), QDateEdit()
        for edit, day in ((self.from_edit, first), (self.to_edit, last)):
            edit.setDisplayFormat("dd/MM/yyyy")
            edit.setCalendarPopup(True)
            edit.setDate(QDate(day.year, day.month, day.day))
            edit.dateChanged.connect(lambda _d: self.reload())
        self.team_box = QComboBox()
        self.team_box.addItem(self.tr("Toute l'équipe"), ALL_TEAM)
        self.team_box.currentIndexChanged.connect(lambda _i: self.reload())
        # This workstation's database, or the hub's for the whole team (once a hub is set).
        self.source_box = QComboBox()
        self.source_box.addItem(self.tr("Ce poste"), LOCAL_SOURCE)
        self.source_box.setToolTip(self.tr(
            "Le hub donne les chiffres de toute l'équipe, sauf la couverture : les données "
            "cliniques restent sur les postes."))
        self.source_box.currentIndexChanged.connect(lambda _i: self.reload())
        self.source_box.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.source_box.setMinimumContentsLength(24)  # a long hub address is elided
        self.pdf_button = QPushButton(self.tr("Exporter en PDF…"))
        self.csv_button = QPushButton(self.tr("Exporter en CSV…"))
        self.pdf_button.clicked.connect(self._ask_pdf)
        self.csv_button.clicked.connect(self._ask_csv)
        self.status = QLabel()
        self.status.setStyleSheet("color: #555")
        self.status.setWordWrap(True)

        bar = QHBoxLayout()
        for text, widget in ((self.tr("&Du"), self.from_edit), (self.tr("&au"), self.to_edit),
                             (self.tr("É&quipe"), self.team_box),
                             (self.tr("&Source"), self.source_box)):
            label = QLabel(text)
            label.setBuddy(widget)
            bar.addWidget(label)
            bar.addWidget(widget)
        bar.addStretch(1)
        bar.addWidget(self.pdf_button)
        bar.addWidget(self.csv_button)

        placeholder = Workload(date_from=first, date_to=last, managers=[],
                               team=Figures(user="team", display_name="Équipe"), weekly=[])
        self.caseload = BarChart(caseload_chart(placeholder))
        self.overdue = BarChart(overdue_chart(placeholder))
        self.weekly = BarChart(weekly_chart(placeholder))
        self.coverage = BarChart(coverage_chart(placeholder))
        grid = QGridLayout()
        for index, chart in enumerate((self.caseload, self.overdue, self.weekly, self.coverage)):
            grid.addWidget(chart, *divmod(index, 2))
        self.managers_model = ManagersModel(self)
        self.coverage_model = CoverageModel(self)
        self.managers_table = row_table(self.managers_model)
        self.coverage_table = row_table(self.coverage_model)
        self.managers_table.setMinimumHeight(260)
        self.coverage_table.setFixedHeight(150)  # four indicators
        for table in (self.managers_table, self.coverage_table):
            table.horizontalHeader().setStretchLastSection(True)

        content = QWidget()
        inner = QVBoxLayout(content)
        inner.addLayout(grid, 4)
        inner.addWidget(QLabel(self.tr("<b>Par IDE coordinatrice</b>")))
        inner.addWidget(self.managers_table, 1)
        inner.addWidget(QLabel(self.tr("<b>Couverture des patients éligibles (équipe)</b>")))
        inner.addWidget(self.coverage_table)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(content)
        layout = QVBoxLayout(self)
        layout.addLayout(bar)
        layout.addWidget(self.status)
        layout.addWidget(scroll, 1)
        self.setFocusProxy(self.from_edit)

    # -- loading

    def showEvent(self, event: QShowEvent) -> None:
        """The figures are read when the page is first shown, not at the app's start-up
        (the worker has the day's list to load first)."""
        super().showEvent(event)
        if not self._started:
            self.start()

    def start(self) -> None:
        """Fill the team filter, then read the figures."""
        self._started = True
        self.worker.submit(care_managers, on_success=self._fill_team,
                           on_error=self._report)
        self.worker.submit(hub_settings, on_success=self._offer_hub, on_error=self._report)
        self.reload()

    def _offer_hub(self, settings: HubSettings | None) -> None:
        if settings is not None and self.source_box.findData(settings.url) < 0:
            self.source_box.blockSignals(True)
            self.source_box.addItem(self.tr("Hub de l'équipe (%1)").replace(
                "%1", settings.server), settings.url)
            self.source_box.blockSignals(False)

    def warm_coverage(self) -> None:
        """Bring today's coverage cache up to date on the worker (a scheduled job)."""
        today = date.today()

        def job(session: Session) -> int:
            return refresh_coverage_cache(session, as_of=today, rules=load_rules())

        self.worker.submit(job, write=True, on_error=self._report)

    def _fill_team(self, people: list[tuple[str, str]]) -> None:
        self.team_box.blockSignals(True)
        for name, display in people:
            if self.team_box.findData(name) < 0:
                self.team_box.addItem(display, name)
        self.team_box.blockSignals(False)

    def query(self) -> Query:
        chosen = self.team_box.currentData()
        first, last = self.from_edit.date(), self.to_edit.date()
        return Query(date(first.year(), first.month(), first.day()),
                     date(last.year(), last.month(), last.day()),
                     (chosen,) if chosen else None)

    def reload(self) -> None:
        query, viewer, today = self.query(), self.user, self.today
        source = self.source_box.currentData()
        self._generation += 1
        generation = self._generation
        self.status.setText(self.tr("Calcul des chiffres…") if source == LOCAL_SOURCE
                            else self.tr("Lecture des chiffres de l'équipe sur le hub…"))

        def job(session: Session) -> Workload:
            if source != LOCAL_SOURCE:
                return hub_workload(session, hub_url=source, date_from=query.date_from,
                                    date_to=query.date_to, users=query.users, viewer=viewer)
            rules = load_rules()
            if query.date_to == today:
                # Today's coverage is kept per patient: the first reading of the day
                # evaluates the team, later ones only the patients changed since.
                refresh_coverage_cache(session, as_of=today, rules=rules)
            return workload(session, date_from=query.date_from, date_to=query.date_to,
                            users=query.users, viewer=viewer, rules=rules)

        self.worker.submit(job, write=True,
                           on_success=lambda found: self._show(generation, found),
                           on_error=self._report)

    def _show(self, generation: int, found: Workload) -> None:
        if generation != self._generation:
            return  # the filters changed since: a newer answer is on its way
        self.found = found
        for chart, data in zip((self.caseload, self.overdue, self.weekly, self.coverage),
                               charts(found), strict=True):
            chart.set_data(data)
        self.managers_model.set_rows([*found.managers, found.team])
        self.coverage_model.set_rows(coverage_rows(found))
        for table in (self.managers_table, self.coverage_table):
            table.resizeColumnsToContents()
        team = found.team
        self.status.setText(self.tr("%1 : %2 patients suivis, %3 appels (%4 joints), "
                                    "%5 rappels en retard")
                            .replace("%1", period_text(found).capitalize())
                            .replace("%2", str(team.patients)).replace("%3", str(team.calls))
                            .replace("%4", _share(team.reached_share))
                            .replace("%5", str(team.overdue))
                            + (self.tr(" — depuis le hub (la couverture n'y est pas : les "
                                       "données cliniques restent sur les postes)")
                               if "coverage" in found.unavailable else ""))
        self.loaded.emit(found)

    def _report(self, exc: BaseException) -> None:
        text = exc.message_fr if isinstance(exc, CareHubError) else str(exc)
        self.status.setText(text)
        self.failed.emit(text)

    # -- exports

    def _ask_pdf(self) -> None:
        path, _f = QFileDialog.getSaveFileName(self, self.tr("Exporter le rapport"),
                                               str(Path.home() / "tableau-de-bord.pdf"),
                                               self.tr("Document PDF (*.pdf)"))
        if path:
            self.export_pdf(Path(path))

    def _ask_csv(self) -> None:
        path, _f = QFileDialog.getSaveFileName(self, self.tr("Exporter les chiffres"),
                                               str(Path.home() / "tableau-de-bord.csv"),
                                               self.tr("Tableur CSV (*.csv)"))
        if path:
            self.export_csv(Path(path))

    def export_pdf(self, path: Path) -> None:
        if self.found is None:
            return
        write_pdf(self.found, path, title=self.tr("Tableau de bord de l'équipe"))
        self._exported(path)

    def export_csv(self, path: Path) -> None:
        if self.found is None:
            return
        path.write_bytes(csv_bytes(self.found))
        self._exported(path)

    def _exported(self, path: Path) -> None:
        self.status.setText(self.tr("Chiffres exportés dans %1").replace("%1", str(path)))
        self.exported.emit(str(path))


def install_dashboard(ctx: AppContext) -> Dashboard:
    """The supervisor's page (Affichage menu, Ctrl+4), and the job evaluating the day's
    coverage before anyone opens it."""
    page = Dashboard(ctx.worker, user=ctx.user)
    action = ctx.add_page(page, page.tr("Tableau de bord"), "Ctrl+4")
    action.setToolTip(page.tr("Tableau de bord (Ctrl+4)"))
    ctx.scheduler.on(COVERAGE_JOB, page.warm_coverage)
    ctx.scheduler.daily(COVERAGE_JOB, hour=COVERAGE_HOUR, minute=COVERAGE_MINUTE)
    # At start-up, once the day's list has loaded: the worker is the app's only writer.
    ctx.scheduler.once(f"{COVERAGE_JOB}:startup", at=ctx.now() + COVERAGE_STARTUP_DELAY)
    return page  # reads its figures when first shown
