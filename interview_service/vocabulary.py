"""Values both domain modules accept, named once."""

INTERVIEW_TYPES = ("behavioral", "technical", "mixed", "dsa", "aptitude", "system-design")
