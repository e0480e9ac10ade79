from .complexity import (PAPER_FIGURES, Complexity, ComplexityCounter,
                         ComplexityReport, classifier_complexity,
                         config_complexity, format_paper_table, format_report,
                         model_complexity, multiplications,
                         paper_matches)

__all__ = [
    'PAPER_FIGURES', 'Complexity', 'ComplexityCounter', 'ComplexityReport',
    'classifier_complexity', 'config_complexity', 'format_paper_table',
    'format_report', 'model_complexity', 'multiplications',
    'paper_matches'
]
