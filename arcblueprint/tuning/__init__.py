"""Lambda power tuning: the pure analysis (statistics, cost, strategy) behind ``blueprint tune``."""
