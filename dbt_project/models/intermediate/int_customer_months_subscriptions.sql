-- Customer x month end (int_months) at which the customer had a live subscription (trialing,
-- paying or paused): tenure, the primary subscription (highest MRR, then the latest started) and
-- its offer, plan, platform and currency, the counts of live / paused / trialing subscriptions, MRR,
-- a recurring discount, and the price changes known in the 90 days up to month_end. The rows of
-- customer_months. No leakage: the subscriptions live at month_end (int_subscription_month_ends)
-- and states that took effect by month_end (a change counts from the day it was known).
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
    where true {{ customers_in_scope(scope, 'customer_id') }}
      -- the price changes of the 90 days before the recent months; the history they summarise is
      -- in the customer_first_* and previous_* columns
      {{ recent_rows_only(scope, "coalesce(valid_to, cast('9999-12-31' as date))", 91) }}

),

subscription_month_ends as (

    select * from {{ ref('int_subscription_month_ends') }}
    where true {{ months_in_scope(scope) }} {{ customers_in_scope(scope, 'customer_id') }}

),

offers as (

    select offer_id, offer_type
    from (
        select
            offer_id,
            offer_type,
            row_number() over (partition by offer_id order by published_at desc, event_id desc) as rn
        from {{ ref('stg_events__offers') }}
    ) as ranked
    where rn = 1

),

ranked_subscriptions as (

    select
        *,
        row_number() over (
            partition by customer_id, month
            order by mrr desc, subscription_started_on desc, subscription_id desc
        ) as rank_in_customer
    from subscription_month_ends

),

customer_firsts as (

    select
        customer_id,
        min(customer_first_live_on) as first_live_on,
        min(customer_first_paid_on) as first_paid_on
    from states
    group by customer_id

),

spine as (

    select
        customer_id,
        month,
        month_end,
        count(*) as live_subscriptions,
        sum(case when is_paused then 1 else 0 end) as paused_subscriptions,
        sum(case when is_trial then 1 else 0 end) as trialing_subscriptions,
        sum(mrr) as mrr,
        max(case when has_discount then 1 else 0 end) = 1 as has_discount,
        -- the primary subscription: highest MRR, then the latest started
        max(case when rank_in_customer = 1 then subscription_id end) as subscription_id,
        max(case when rank_in_customer = 1 then offer_id end) as offer_id,
        max(case when rank_in_customer = 1 then billing_period end) as billing_period,
        max(case when rank_in_customer = 1 then platform end) as platform,
        max(case when rank_in_customer = 1 then currency end) as currency
    from ranked_subscriptions
    group by customer_id, month, month_end

),

-- price changes: a state whose monthly amount (net price, normalised) differs from the previous state
-- of the same subscription in the same currency; valid_from is the day the change was known
price_changes as (

    select
        customer_id,
        subscription_id,
        valid_from as changed_on,
        previous_monthly_amount_local as previous_amount,
        monthly_amount_local
    from states
    where previous_monthly_amount_local is not null
      and currency = previous_currency
      and monthly_amount_local <> previous_monthly_amount_local

),

price_change_features as (

    select
        customer_id,
        month,
        sum(case when monthly_amount_local > previous_amount then 1 else 0 end) as price_increases_90d,
        sum(case when monthly_amount_local < previous_amount then 1 else 0 end) as price_decreases_90d,
        max(case when rank_latest = 1 then
            cast(monthly_amount_local as double) / nullif(cast(previous_amount as double), 0) - 1
        end) as last_price_change_pct_90d
    from (
        select
            price_changes.*,
            months.month,
            row_number() over (
                partition by price_changes.customer_id, months.month
                order by price_changes.changed_on desc, price_changes.subscription_id desc
            ) as rank_latest
        from price_changes
        inner join months
            on price_changes.changed_on <= months.month_end
            and price_changes.changed_on > {{ dbt.dateadd('day', -90, 'months.month_end') }}
    ) as windowed
    group by customer_id, month

),

final as (

    select
        spine.customer_id,
        spine.month,
        spine.month_end,
        cast({{ dbt.datediff('customer_firsts.first_live_on', 'spine.month_end', 'day') }} as integer) as tenure_days,
        case when customer_firsts.first_paid_on <= spine.month_end
            then cast({{ dbt.datediff('customer_firsts.first_paid_on', 'spine.month_end', 'day') }} as integer)
        end as paid_tenure_days,
        spine.subscription_id,
        spine.offer_id,
        coalesce(offers.offer_type, 'unknown') as offer_type,
        spine.billing_period,
        spine.platform,
        spine.currency,
        cast(spine.live_subscriptions as integer) as live_subscriptions,
        cast(spine.paused_subscriptions as integer) as paused_subscriptions,
        cast(spine.trialing_subscriptions as integer) as trialing_subscriptions,
        cast(coalesce(spine.mrr, 0) as decimal(38, 22)) as mrr,
        cast(coalesce(price_change_features.price_increases_90d, 0) as integer) as price_increases_90d,
        cast(coalesce(price_change_features.price_decreases_90d, 0) as integer) as price_decreases_90d,
        price_change_features.last_price_change_pct_90d,
        spine.has_discount
    from spine
    inner join customer_firsts on spine.customer_id = customer_firsts.customer_id
    left join offers on spine.offer_id = offers.offer_id
    left join price_change_features
        on spine.customer_id = price_change_features.customer_id and spine.month = price_change_features.month

)

select * from final

) as {{ scope }}_rows
{%- endfor %}
