<?xml version="1.0" encoding="utf-8"?>
<!DOCTYPE TS>
<TS version="2.1" language="en_GB" sourcelanguage="fr_FR">
    <context>
        <name>App</name>
        <message>
            <location filename="../../ui/app.py" line="61" />
            <source>Aucune base de données n'existe encore à l'emplacement %1.

Créer une nouvelle base chiffrée maintenant ?</source>
            <translation>There is no database at %1 yet.

Create a new encrypted database now?</translation>
        </message>
    </context>
    <context>
        <name>CaseloadModel</name>
        <message>
            <location filename="../../ui/widgets/patient_table.py" line="52" />
            <source>Nom</source>
            <translation>Name</translation>
        </message>
        <message>
            <location filename="../../ui/widgets/patient_table.py" line="53" />
            <source>Prénom(s)</source>
            <translation>Given name(s)</translation>
        </message>
        <message>
            <location filename="../../ui/widgets/patient_table.py" line="54" />
            <source>Naissance</source>
            <translation>Born</translation>
        </message>
        <message>
            <location filename="../../ui/widgets/patient_table.py" line="55" />
            <source>Âge</source>
            <translation>Age</translation>
        </message>
        <message>
            <location filename="../../ui/widgets/patient_table.py" line="56" />
            <source>Commune</source>
            <translation>Town</translation>
        </message>
        <message>
            <location filename="../../ui/widgets/patient_table.py" line="57" />
            <source>Téléphone</source>
            <translation>Phone</translation>
        </message>
        <message>
            <location filename="../../ui/widgets/patient_table.py" line="58" />
            <source>INS</source>
            <translation>INS</translation>
        </message>
        <message>
            <location filename="../../ui/widgets/patient_table.py" line="59" />
            <source>Statut</source>
            <translation>Status</translation>
        </message>
        <message>
            <location filename="../../ui/widgets/patient_table.py" line="60" />
            <source>Fragilité</source>
            <translation>Frailty</translation>
        </message>
        <message>
            <location filename="../../ui/widgets/patient_table.py" line="61" />
            <source>IDE coordinatrice</source>
            <translation>Care manager</translation>
        </message>
        <message>
            <location filename="../../ui/widgets/patient_table.py" line="67" />
            <source>Suivi actif</source>
            <translation>Active</translation>
        </message>
        <message>
            <location filename="../../ui/widgets/patient_table.py" line="68" />
            <source>En pause</source>
            <translation>Paused</translation>
        </message>
        <message>
            <location filename="../../ui/widgets/patient_table.py" line="69" />
            <source>Clôturé</source>
            <translation>Closed</translation>
        </message>
        <message>
            <location filename="../../ui/widgets/patient_table.py" line="70" />
            <source>Décédé</source>
            <translation>Deceased</translation>
        </message>
        <message>
            <location filename="../../ui/widgets/patient_table.py" line="73" />
            <source>0 – robuste</source>
            <translation>0 – robust</translation>
        </message>
        <message>
            <location filename="../../ui/widgets/patient_table.py" line="74" />
            <source>1 – pré-fragile</source>
            <translation>1 – pre-frail</translation>
        </message>
        <message>
            <location filename="../../ui/widgets/patient_table.py" line="75" />
            <source>2 – fragile</source>
            <translation>2 – frail</translation>
        </message>
        <message>
            <location filename="../../ui/widgets/patient_table.py" line="76" />
            <source>3 – très fragile</source>
            <translation>3 – very frail</translation>
        </message>
    </context>
    <context>
        <name>CaseloadPage</name>
        <message>
            <location filename="../../ui/caseload/page.py" line="114" />
            <source>Rechercher : nom, INS, téléphone, commune…</source>
            <translation>Search: name, INS, phone, town…</translation>
        </message>
        <message>
            <location filename="../../ui/caseload/page.py" line="119" />
            <source>Tous les statuts</source>
            <translation>All statuses</translation>
        </message>
        <message>
            <location filename="../../ui/caseload/page.py" line="123" />
            <source>Toutes fragilités</source>
            <translation>All frailty levels</translation>
        </message>
        <message>
            <location filename="../../ui/caseload/page.py" line="127" />
            <source>Toutes les IDE coordinatrices</source>
            <translation>All care managers</translation>
        </message>
        <message>
            <location filename="../../ui/caseload/page.py" line="128" />
            <source>Statut</source>
            <translation>Status</translation>
        </message>
        <message>
            <location filename="../../ui/caseload/page.py" line="129" />
            <source>Fragilité</source>
            <translation>Frailty</translation>
        </message>
        <message>
            <location filename="../../ui/caseload/page.py" line="130" />
            <source>IDE coordinatrice</source>
            <translation>Care manager</translation>
        </message>
        <message numerus="yes">
            <location filename="../../ui/caseload/page.py" line="279" />
            <source>%n patients</source>
            <translation>
                <numerusform>%n patient</numerusform>
                <numerusform>%n patients</numerusform>
            </translation>
        </message>
        <message numerus="yes">
            <location filename="../../ui/caseload/page.py" line="280" />
            <source>%n patient</source>
            <translation>
                <numerusform>%n patient</numerusform>
                <numerusform>%n patients</numerusform>
            </translation>
        </message>
        <message>
            <location filename="../../ui/caseload/page.py" line="386" />
            <source>L'enregistrement a échoué ; rien n'a été modifié. Détail : %1</source>
            <translation>Saving failed; nothing was changed. Detail: %1</translation>
        </message>
    </context>
    <context>
        <name>MainWindow</name>
        <message>
            <location filename="../../ui/main_window.py" line="193" />
            <source>Rechercher</source>
            <translation>Search</translation>
        </message>
        <message>
            <location filename="../../ui/main_window.py" line="194" />
            <source>Nouveau patient</source>
            <translation>New patient</translation>
        </message>
        <message>
            <location filename="../../ui/main_window.py" line="195" />
            <source>Ouvrir / modifier le patient</source>
            <translation>Open / edit patient</translation>
        </message>
        <message>
            <location filename="../../ui/main_window.py" line="197" />
            <source>Effacer la recherche</source>
            <translation>Clear search</translation>
        </message>
        <message>
            <location filename="../../ui/main_window.py" line="199" />
            <source>Actualiser</source>
            <translation>Refresh</translation>
        </message>
        <message>
            <location filename="../../ui/main_window.py" line="200" />
            <source>Quitter</source>
            <translation>Quit</translation>
        </message>
        <message>
            <location filename="../../ui/main_window.py" line="202" />
            <source>&amp;Fichier</source>
            <translation>&amp;File</translation>
        </message>
        <message>
            <location filename="../../ui/main_window.py" line="206" />
            <source>&amp;Patient</source>
            <translation>&amp;Patient</translation>
        </message>
        <message>
            <location filename="../../ui/main_window.py" line="208" />
            <source>&amp;Affichage</source>
            <translation>&amp;View</translation>
        </message>
        <message>
            <location filename="../../ui/main_window.py" line="211" />
            <source>Actions</source>
            <translation>Actions</translation>
        </message>
        <message numerus="yes">
            <location filename="../../ui/main_window.py" line="410" />
            <source>%n modifications en attente de synchronisation</source>
            <translation>
                <numerusform>%n change waiting for sync</numerusform>
                <numerusform>%n changes waiting for sync</numerusform>
            </translation>
        </message>
        <message numerus="yes">
            <location filename="../../ui/main_window.py" line="411" />
            <source>%n modification en attente de synchronisation</source>
            <translation>
                <numerusform>%n change waiting for sync</numerusform>
                <numerusform>%n changes waiting for sync</numerusform>
            </translation>
        </message>
        <message>
            <location filename="../../ui/main_window.py" line="414" />
            <source>Tout est synchronisé</source>
            <translation>Everything is synchronised</translation>
        </message>
    </context>
</TS>