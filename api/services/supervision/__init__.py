"""What supervisors do: assign cases, plan collectors' days, set targets and follow progress,
act on exceptions."""
