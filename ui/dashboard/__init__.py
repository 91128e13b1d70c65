"""Tableau de bord: the supervisor's workload and coverage figures, their charts, CSV and PDF."""
