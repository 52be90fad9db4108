"""The SuperOffice CRM backend (being written)."""
