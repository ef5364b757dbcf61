-- Customer x month (int_months) at whose month end the customer had a live subscription: MRR and
-- trial MRR at the month end (reporting currency at that day's rate, exact) and the counts of live /
-- paused / trialing subscriptions. The customer's MRR intervals are joined to the month ends by range
-- (valid_from <= month_end < valid_to): no calendar x customer expansion.
-- INCREMENTAL: the changed customers' rows and every customer's as-of month (macro scoped_build).
{{ incremental_by_customer(rebuild_recent={'column': 'month', 'days': 0}) }}
{{ scoped_build(customer_month_ends_sql) }}
