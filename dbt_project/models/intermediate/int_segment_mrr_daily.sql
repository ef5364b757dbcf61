-- Segment (customer country x signup platform) x currency x day, from the first event day - 1 to the
-- as-of date: the total local MRR and trial MRR levels at the end of the day, their value at the
-- day's rate, and the day's FX adjustment = level at the end of the previous day x (rate today -
-- rate yesterday). With the customer movements (priced at today's rate) this makes the bridge exact:
--   MRR(d) - MRR(d-1) = sum of (mrr_after - mrr_before) of the day's movements + fx_adjustment(d).
with

intervals as (

    select * from {{ ref('int_customer_mrr_intervals') }}

),

customers as (

    select * from {{ ref('int_customers') }}

),

fx as (

    select * from {{ ref('int_fx_rates_daily') }}

),

customer_deltas as (

    select
        customer_id,
        currency,
        valid_from as change_date,
        mrr_local - coalesce(lag(mrr_local) over customer_currency, 0) as mrr_local_delta,
        trial_mrr_local - coalesce(lag(trial_mrr_local) over customer_currency, 0) as trial_mrr_local_delta
    from intervals
    window customer_currency as (partition by customer_id, currency order by valid_from)

),

segment_deltas as (

    select
        customers.segment_country,
        customers.segment_platform,
        customer_deltas.currency,
        customer_deltas.change_date,
        sum(customer_deltas.mrr_local_delta) as mrr_local_delta,
        sum(customer_deltas.trial_mrr_local_delta) as trial_mrr_local_delta
    from customer_deltas
    inner join customers on customer_deltas.customer_id = customers.customer_id
    group by 1, 2, 3, 4

),

segment_currencies as (

    select distinct segment_country, segment_platform, currency
    from segment_deltas

),

spine as (

    select
        segment_currencies.segment_country,
        segment_currencies.segment_platform,
        segment_currencies.currency,
        fx.rate_date as day,
        fx.unit_rate,
        fx.previous_unit_rate
    from segment_currencies
    inner join fx on segment_currencies.currency = fx.currency

),

levels as (

    select
        spine.*,
        cast(sum(coalesce(segment_deltas.mrr_local_delta, 0)) over running as decimal(38, 6)) as mrr_local,
        cast(sum(coalesce(segment_deltas.trial_mrr_local_delta, 0)) over running as decimal(38, 6)) as trial_mrr_local
    from spine
    left join segment_deltas
        on spine.segment_country = segment_deltas.segment_country
        and spine.segment_platform = segment_deltas.segment_platform
        and spine.currency = segment_deltas.currency
        and spine.day = segment_deltas.change_date
    window running as (
        partition by spine.segment_country, spine.segment_platform, spine.currency
        order by spine.day
        rows between unbounded preceding and current row
    )

),

final as (

    select
        segment_country,
        segment_platform,
        currency,
        day,
        mrr_local,
        trial_mrr_local,
        cast(mrr_local * unit_rate as decimal(38, 22)) as mrr,
        cast(trial_mrr_local * unit_rate as decimal(38, 22)) as trial_mrr,
        cast(coalesce(
            lag(mrr_local) over (
                partition by segment_country, segment_platform, currency order by day
            ) * (unit_rate - previous_unit_rate),
            0
        ) as decimal(38, 22)) as fx_adjustment
    from levels

)

select * from final
