"""youmeyou: an A2A agent server with four specialist agents and a semantic-routing orchestrator."""

__version__ = "0.1.0"
