"""The specialist agents, and the code that serves one agent over A2A."""

# The specialists, in the order work flows through a team. Kept free of imports so the CLI
# can check a name before anything heavy (the a2a-sdk, torch) is loaded.
SPECIALIST_IDS = ("architecture", "database", "code", "validator")
