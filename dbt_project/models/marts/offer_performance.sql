-- One row per offer (offer_id, with the offer_type of its latest published version). Subscription
-- figures follow the offer the subscription STARTED with (initial_offer_id), so that upgrades do not
-- move a subscriber's history between offers; `current_mrr_on_offer` is the MRR of the subscriptions
-- on the offer today. Retention at k months = share of the subscriptions started at least k months
-- before the as-of date that were still live (not ended; paused counts as live) k months after their
-- start. One-time offers (pass / live_ppv / tvod) have purchases and one-time revenue instead.
with

as_of as (

    select * from {{ ref('int_as_of') }}

),

subscriptions as (

    select * from {{ ref('fct_subscriptions') }}

),

revenue as (

    select * from {{ ref('int_revenue_events') }}

),

catalogue as (

    select offer_id, offer_type, title
    from (
        select
            offer_id,
            offer_type,
            title,
            row_number() over (partition by offer_id order by published_at desc, event_id desc) as rn
        from {{ ref('stg_events__offers') }}
        where offer_id is not null
    ) as ranked
    where rn = 1

),

purchases as (

    select offer_id, offer_type, purchase_id
    from {{ ref('stg_events__purchases') }}
    where offer_id is not null

),

by_initial_offer as (

    select
        subscriptions.initial_offer_id as offer_id,
        count(*) as subscriptions_started,
        sum(case when subscriptions.trial_ends_at is not null
                  and cast(subscriptions.trial_ends_at as date) > cast(subscriptions.started_at as date)
                 then 1 else 0 end) as trials,
        sum(case when subscriptions.trial_ends_at is not null
                  and cast(subscriptions.trial_ends_at as date) > cast(subscriptions.started_at as date)
                  and subscriptions.first_paid_at is not null
                 then 1 else 0 end) as conversions,
        sum(case when subscriptions.status <> 'ended' then 1 else 0 end) as active_now,
        sum(case when subscriptions.ended_at is not null then 1 else 0 end) as churned,
        {% for k in [1, 3, 6] -%}
        sum(case when cast({{ dbt.dateadd('month', k, 'cast(subscriptions.started_at as date)') }} as date) <= as_of.as_of_date
                 then 1 else 0 end) as eligible_{{ k }}m,
        sum(case when cast({{ dbt.dateadd('month', k, 'cast(subscriptions.started_at as date)') }} as date) <= as_of.as_of_date
                  and (subscriptions.ended_at is null
                       or cast(subscriptions.ended_at as date) > cast({{ dbt.dateadd('month', k, 'cast(subscriptions.started_at as date)') }} as date))
                 then 1 else 0 end) as retained_{{ k }}m,
        {% endfor -%}
        sum(subscriptions.current_mrr) as current_mrr
    from subscriptions
    cross join as_of
    group by subscriptions.initial_offer_id

),

by_current_offer as (

    select offer_id, sum(current_mrr) as current_mrr_on_offer
    from subscriptions
    where status <> 'ended'
    group by offer_id

),

by_purchase as (

    select
        purchases.offer_id,
        min(purchases.offer_type) as offer_type,
        count(distinct purchases.purchase_id) as purchases,
        sum(revenue.amount) as one_time_revenue
    from purchases
    left join revenue
        on revenue.revenue_type = 'one_time_purchase'
        and purchases.purchase_id = revenue.purchase_id
    group by purchases.offer_id

),

offers as (

    select offer_id from catalogue
    union
    select offer_id from by_initial_offer where offer_id is not null
    union
    select offer_id from by_current_offer where offer_id is not null
    union
    select offer_id from by_purchase

),

final as (

    select
        offers.offer_id,
        coalesce(
            catalogue.offer_type,
            case when by_initial_offer.offer_id is not null or by_current_offer.offer_id is not null then 'subscription' end,
            by_purchase.offer_type,
            'unknown'
        ) as offer_type,
        catalogue.title,
        cast(coalesce(by_initial_offer.subscriptions_started, 0) as integer) as subscriptions_started,
        cast(coalesce(by_initial_offer.trials, 0) as integer) as trials,
        cast(coalesce(by_initial_offer.conversions, 0) as integer) as conversions,
        cast(by_initial_offer.conversions as double) / nullif(by_initial_offer.trials, 0) as trial_conversion_rate,
        cast(coalesce(by_initial_offer.active_now, 0) as integer) as active_now,
        cast(coalesce(by_initial_offer.churned, 0) as integer) as churned,
        {% for k in [1, 3, 6] -%}
        cast(by_initial_offer.retained_{{ k }}m as double) / nullif(by_initial_offer.eligible_{{ k }}m, 0) as retention_{{ k }}m,
        cast(coalesce(by_initial_offer.eligible_{{ k }}m, 0) as integer) as retention_{{ k }}m_eligible,
        {% endfor -%}
        cast(coalesce(by_initial_offer.current_mrr, 0) as decimal(38, 22)) as current_mrr,
        cast(coalesce(by_current_offer.current_mrr_on_offer, 0) as decimal(38, 22)) as current_mrr_on_offer,
        cast(coalesce(by_purchase.purchases, 0) as integer) as purchases,
        cast(coalesce(by_purchase.one_time_revenue, 0) as decimal(38, 16)) as one_time_revenue
    from offers
    left join catalogue on offers.offer_id = catalogue.offer_id
    left join by_initial_offer on offers.offer_id = by_initial_offer.offer_id
    left join by_current_offer on offers.offer_id = by_current_offer.offer_id
    left join by_purchase on offers.offer_id = by_purchase.offer_id

)

select * from final
