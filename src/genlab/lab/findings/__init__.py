"""What each lab task reports from its measurements: its tables, and the observations computed
from their numbers (one module per task)."""
