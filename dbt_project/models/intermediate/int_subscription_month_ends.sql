-- Live subscription x month end (int_months): the point-in-time state of every subscription live
-- (trialing, paying or paused) at a month end, its MRR there (reporting currency at that day's
-- rate). States (int_subscription_states_pit: a change takes effect no earlier than the day it was
-- known) are joined to the month ends by range (valid_from <= month_end < valid_to): no calendar x
-- subscription expansion. Read by int_customer_months_subscriptions (the customer's subscriptions
-- and its primary one) and int_customer_months_schedule (what is scheduled for a live subscription).
-- INCREMENTAL: the changed customers' rows and every customer's as-of month (build_scopes(),
-- macros/changed_customers.sql).
{{ incremental_by_customer(rebuild_recent={'column': 'month', 'days': 0}) }}
{%- for scope in build_scopes() %}
{{ 'union all' if not loop.first }}
select * from (

with

months as (

    select * from {{ ref('int_months') }}
    where true {{ months_in_scope(scope) }}

),

states as (

    select * from {{ ref('int_subscription_states_pit') }}
    where is_live
      {{ customers_in_scope(scope, 'customer_id') }}
      -- the recent months need the states live at their month ends
      {{ recent_rows_only(scope, "coalesce(valid_to, cast('9999-12-31' as date))", 0) }}

),

fx as (

    select * from {{ ref('int_fx_rates_daily') }}

),

final as (

    select
        states.customer_id,
        months.month,
        months.month_end,
        states.subscription_id,
        states.subscription_started_on,
        states.offer_id,
        states.platform,
        states.currency,
        states.billing_period,
        states.is_paused,
        states.is_trial,
        coalesce(states.discount_minor, 0) > 0 and not states.is_trial as has_discount,
        states.mrr_local * fx.unit_rate as mrr
    from states
    inner join months
        on states.valid_from <= months.month_end
        and coalesce(states.valid_to, cast('9999-12-31' as date)) > months.month_end
    left join fx
        on states.currency = fx.currency
        and fx.rate_date = months.month_end

)

select * from final

) as {{ scope }}_rows
{%- endfor %}
