{{ incremental_by_customer() }}
-- Customer x day on which the customer's MRR level (any currency) or subscription state changes.
-- mrr_before / mrr_after: the customer's MRR at the end of the previous day and of this day, both
-- priced at THIS day's rate (METRICS.md: FX never creates a business movement), reporting currency,
-- major units, exact decimals. Also the subscription counts before / after and the churn type of the
-- subscription that ended last on that day (for churn rows).
with

intervals as (

    select * from {{ ref('int_customer_mrr_intervals') }}
    where true {{ changed_customers_only('customer_id') }}

),

fx as (

    select * from {{ ref('int_fx_rates_daily') }}

),

subscriptions as (

    select * from {{ ref('int_subscriptions') }}
    where true {{ changed_customers_only('customer_id') }}

),

change_dates as (

    select distinct customer_id, valid_from as change_date
    from intervals

),

customer_currencies as (

    select distinct customer_id, currency
    from intervals

),

-- every change date of the customer x every currency the customer ever had
grid as (

    select
        change_dates.customer_id,
        change_dates.change_date,
        customer_currencies.currency,
        intervals.valid_from,
        intervals.mrr_local,
        intervals.trial_mrr_local,
        intervals.live_subscriptions,
        intervals.paused_subscriptions,
        intervals.trialing_subscriptions
    from change_dates
    inner join customer_currencies
        on change_dates.customer_id = customer_currencies.customer_id
    left join intervals
        on change_dates.customer_id = intervals.customer_id
        and customer_currencies.currency = intervals.currency
        and change_dates.change_date = intervals.valid_from

),

levels_after as (

    select
        customer_id,
        change_date,
        currency,
        {% for column in ['mrr_local', 'trial_mrr_local', 'live_subscriptions', 'paused_subscriptions', 'trialing_subscriptions'] -%}
        coalesce(last_value({{ column }} ignore nulls) over running, 0) as {{ column }}{{ ',' if not loop.last }}
        {% endfor %}
    from grid
    window running as (
        partition by customer_id, currency order by change_date
        rows between unbounded preceding and current row
    )

),

levels as (

    select
        levels_after.*,
        {% for column in ['mrr_local', 'trial_mrr_local', 'live_subscriptions', 'paused_subscriptions', 'trialing_subscriptions'] -%}
        coalesce(lag({{ column }}) over (
            partition by customer_id, currency order by change_date
        ), 0) as {{ column }}_before{{ ',' if not loop.last }}
        {% endfor %}
    from levels_after

),

priced as (

    select
        levels.customer_id,
        levels.change_date,
        sum(levels.mrr_local_before * fx.unit_rate) as mrr_before,
        sum(levels.mrr_local * fx.unit_rate) as mrr_after,
        sum(levels.trial_mrr_local_before * fx.unit_rate) as trial_mrr_before,
        sum(levels.trial_mrr_local * fx.unit_rate) as trial_mrr_after,
        cast(sum(levels.live_subscriptions_before) as integer) as live_subscriptions_before,
        cast(sum(levels.live_subscriptions) as integer) as live_subscriptions_after,
        cast(sum(levels.paused_subscriptions_before) as integer) as paused_subscriptions_before,
        cast(sum(levels.paused_subscriptions) as integer) as paused_subscriptions_after,
        cast(sum(levels.trialing_subscriptions_before) as integer) as trialing_subscriptions_before,
        cast(sum(levels.trialing_subscriptions) as integer) as trialing_subscriptions_after
    from levels
    left join fx
        on levels.currency = fx.currency
        and levels.change_date = fx.rate_date
    group by levels.customer_id, levels.change_date

),

ended_subscriptions as (

    select
        customer_id,
        cast(ended_at as date) as ended_date,
        churn_type,
        row_number() over (
            partition by customer_id, cast(ended_at as date)
            order by ended_at desc, subscription_id desc
        ) as rn
    from subscriptions
    where ended_at is not null

),

final as (

    select
        priced.customer_id,
        priced.change_date,
        cast(priced.mrr_before as decimal(38, 22)) as mrr_before,
        cast(priced.mrr_after as decimal(38, 22)) as mrr_after,
        cast(priced.trial_mrr_before as decimal(38, 22)) as trial_mrr_before,
        cast(priced.trial_mrr_after as decimal(38, 22)) as trial_mrr_after,
        priced.live_subscriptions_before,
        priced.live_subscriptions_after,
        priced.paused_subscriptions_before,
        priced.paused_subscriptions_after,
        priced.trialing_subscriptions_before,
        priced.trialing_subscriptions_after,
        ended_subscriptions.churn_type as ended_churn_type
    from priced
    left join ended_subscriptions
        on priced.customer_id = ended_subscriptions.customer_id
        and priced.change_date = ended_subscriptions.ended_date
        and ended_subscriptions.rn = 1

)

select * from final
