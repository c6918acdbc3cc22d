"""SQLAlchemy 2 async storage: tables, repositories, unit of work, outbox, migrations."""
