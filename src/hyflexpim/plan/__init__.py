"""The plan: which singular components (or rows) of each weight matrix are stored in SLC."""

from hyflexpim.plan.schema import PLAN_FORMAT, MatrixPlan, Plan, Role, load_plan

__all__ = ["PLAN_FORMAT", "MatrixPlan", "Plan", "Role", "load_plan"]
