"""The superflow web app: create_app and its blueprints."""
