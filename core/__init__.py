"""The operational subscription core: the system of record.

Customers, offers, coupons, subscriptions, one-time purchases, payments through provider
adapters, entitlements, retention campaigns and support tickets, on SQLAlchemy (SQLite by
default, PostgreSQL in production). Every state change writes its contract events into the
outbox in the same database transaction (`core.outbox`).
"""
