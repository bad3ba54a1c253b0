"""Route planning: a collector's day as a travelling-salesman problem with time windows and
optional stops (a prize-collecting VRPTW for several collectors), solved behind `Planner`."""
