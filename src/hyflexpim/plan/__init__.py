"""The plan: which singular components (or rows) of each weight matrix are stored in SLC."""

from hyflexpim.plan.architecture import Architecture, budget_rank, hard_threshold_rank
from hyflexpim.plan.schema import PLAN_FORMAT, AttentionPlan, MatrixPlan, Plan, Role, load_plan

__all__ = ["PLAN_FORMAT", "Architecture", "AttentionPlan", "MatrixPlan", "Plan", "Role", "budget_rank",
           "hard_threshold_rank", "load_plan"]
