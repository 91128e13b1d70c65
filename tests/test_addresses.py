"""Addresses printed in French usage from the extract's capitals, the database untouched."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import text

from carehub.db import Database
from carehub.directory.addresses import (
    build_vocabulary,
    commune_name,
    french_address,
    french_name,
    read_street_words,
    street_words_file,
    vocabulary,
)
from carehub.directory.extract_import import import_extract
from carehub.directory.services import DirectorySearch, printable_list, search_directory
from carehub.text import fold

FIXTURE = Path(__file__).parent / "data" / "annuaire" / "PS_LibreAcces_Personne_activite.txt"


@pytest.mark.parametrize(("stored", "commune", "printed"), [
    ("3 Place DE L'EGLISE, 41350 VINEUIL", "Vineuil", "3 place de l'Église, 41350 Vineuil"),
    ("8 Rue DES ECOLES, 41350 SAINT GERVAIS LA FORET", None,
     "8 rue des Écoles, 41350 Saint-Gervais-la-Forêt"),
    ("Mail PIERRE CHARLOT, 41016 BLOIS CEDEX", "Blois",
     "Mail Pierre Charlot, 41016 Blois Cedex"),
    ("5 Avenue DU MARECHAL MAUNOURY, 41000 BLOIS", "Blois",
     "5 avenue du Maréchal Maunoury, 41000 Blois"),
    ("1 Place SAINT LOUIS, 41250 CHAMBORD", "Chambord", "1 place Saint-Louis, 41250 Chambord"),
    ("12 B Rue DU GENERAL DE GAULLE, BP 123, 41000 BLOIS", None,
     "12 B rue du Général de Gaulle, BP 123, 41000 Blois"),
    ("14 BIS Avenue DU 8 MAI 1945, 37000 TOURS", None,
     "14 bis avenue du 8 mai 1945, 37000 Tours"),
    ("Chemin DE BLOIS A VENDOME, 41000 ST DENIS SUR LOIRE", None,
     "Chemin de Blois à Vendôme, 41000 Saint-Denis-sur-Loire"),
    ("20 Rue HENRI IV, 41000 BLOIS", None, "20 rue Henri IV, 41000 Blois"),
    ("7 Allée DES PRES, 37000 TOURS", None, "7 allée des Prés, 37000 Tours"),
    ("2 Rue DU 1ER MAI, 37000 TOURS", None, "2 rue du 1er mai, 37000 Tours"),
    ("CENTRE HOSPITALIER, BATIMENT A, 3 Rue DE LA REPUBLIQUE, 41000 BLOIS", "Blois",
     "Centre Hospitalier, Bâtiment A, 3 rue de la République, 41000 Blois"),
    ("10 HARLEY STREET, LONDON, Royaume-Uni", None, "10 Harley Street, London, Royaume-Uni"),
    # What the extract already writes in lower case stays as it is.
    ("4 rue des Lilas, 41000 Blois", None, "4 rue des Lilas, 41000 Blois"),
])
def test_an_extract_address_reads_as_french(stored: str, commune: str | None,
                                             printed: str) -> None:
    assert french_address(stored, commune=commune) == printed


def test_a_commune_name_shared_by_several_communes_is_told_by_its_postal_code() -> None:
    words = vocabulary()
    # Saint-Denis exists in many departments; 93200 is Seine-Saint-Denis'.
    assert commune_name("ST DENIS", postal="93200", vocabulary=words) == "Saint-Denis"
    assert commune_name("SAINT DENIS SUR LOIRE", postal="41000",
                        vocabulary=words) == "Saint-Denis-sur-Loire"
    assert commune_name("NOWHERE AT ALL", postal="41000", vocabulary=words) is None


def test_a_word_spelt_two_ways_in_the_commune_names_takes_no_accent_from_them() -> None:
    communes = [("Saint-Jean-des-Prés", "saint jean des pres", "11111"),
                ("Villiers-près-Yerres", "villiers pres yerres", "22222"),
                ("Notre-Dame-de-l'Église", "notre dame de l eglise", "33333")]
    words = build_vocabulary({}, communes)
    assert words.words["eglise"] == "église"
    assert "pres" not in words.words  # prés or près: the communes cannot tell
    assert french_address("2 Rue DES PRES, 11111 SAINT JEAN DES PRES",
                          vocab=words) == "2 rue des Pres, 11111 Saint-Jean-des-Prés"
    street = build_vocabulary({"pres": "prés"}, communes)  # the street words decide
    assert french_address("2 Rue DES PRES, 11111 ST JEAN DES PRES",
                          vocab=street) == "2 rue des Prés, 11111 Saint-Jean-des-Prés"


def test_the_shipped_street_words_are_accented_and_distinct() -> None:
    lines = [line.strip() for line in street_words_file().read_text(encoding="utf-8")
             .splitlines() if line.strip() and not line.startswith("#")]
    words = read_street_words()
    assert len(words) == len(lines) > 100
    assert all(fold(word) != word for word in words.values())  # each restores an accent


def test_a_site_name_in_capitals_reads_as_a_name() -> None:
    assert french_name("PHARMACIE DU CHATEAU") == "Pharmacie du Château"
    assert french_name("Cabinet des Lilas") == "Cabinet des Lilas"  # written by hand: kept


def test_the_printed_list_reads_french_and_the_directory_keeps_the_extract(
        db: Database) -> None:
    with db.transaction() as session:
        import_extract(session, path=FIXTURE, actor="alice")
    with db.session() as session:
        result = search_directory(session, search=DirectorySearch(commune="41295"))
        stored = session.execute(text(
            "SELECT address FROM practitioner_activity WHERE practitioner_id = '810000000025'"
            " AND address LIKE '%EGLISE%'")).scalar_one()
    document = printable_list(result, radius_km=10, today=date(2026, 11, 23))
    dubois = next(row for row in document["rows"] if row["name"] == "Docteur Pierre DUBOIS")
    assert dubois["address"] == "3 place de l'Église, 41350 Vineuil"
    assert dubois["site"] == "Cabinet Médical du Cosson"
    assert stored == "3 Place DE L'EGLISE, 41350 VINEUIL"  # as the extract has it
    count = len(document["rows"])
    assert document["count"].startswith(f"{count} professionnels de santé à moins de 10 km "
                                        "de Vineuil (le plus éloigné à ")
    assert document["footer_count"] == (f"{count} professionnels de santé à moins de 10 km "
                                        "de Vineuil")
