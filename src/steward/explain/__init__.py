"""The explain stage: partial dependence, Shapley values, subpopulations and fairness,
what-if analysis, and model cards."""
