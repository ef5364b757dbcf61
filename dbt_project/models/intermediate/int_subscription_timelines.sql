-- Subscription x timeline x [valid_from, valid_to) at DATE grain of constant state, built from change
-- points, in two timelines:
--   effective  a change takes effect at its effective timestamp: the history as known at the as-of
--              date, backdated changes included (int_subscription_states)
--   known      a change takes effect at greatest(effective timestamp, occurred_at), never before it was
--              known, so the state on date D uses only events that occurred by the end of D
--              (int_subscription_states_pit, for the leakage-free customer_months)
-- The change points:
--   started   (occurred_at)          live, price / discount / currency / period / offer, in trial if
--                                    trial_ends_at falls on a later date
--   trial end (trial_ends_at)        paying from that date (scheduled by the start event)
--   changed   (effective_at)         new offer / price / discount / currency / period
--   renewed   (period_start)         price / discount / currency
--   paused / resumed (occurred_at)   MRR 0 while paused
--   ended     (occurred_at)          access ends: not live on that date
-- cancelled / reactivated have no MRR effect (a pending cancellation is scheduled churn only).
-- Several change points on one date: the state at the end of the day wins. Order is
-- (effective timestamp, occurred_at, event_id), so the result does not depend on arrival order.
-- Change points after the as-of date are ignored; valid_to is null for the open interval.
{{ incremental_by_customer() }}
with

as_of as (

    select * from {{ ref('int_as_of') }}

),

events as (

    {{ subscription_events_to_as_of() }}

),

starts as (

    select *
    from (
        select
            events.*,
            trial_ends_at is not null
                and cast(trial_ends_at as date) > cast(occurred_at as date) as starts_in_trial,
            row_number() over (
                partition by subscription_id order by occurred_at, event_id
            ) as start_rank
        from events
        where event_type = 'subscription.started'
    ) as ranked
    where start_rank = 1

),

-- what each event sets (null: unchanged) and its effective timestamp
change_points as (

    select
        subscription_id, occurred_at as effective_at, occurred_at, event_id,
        true as is_live, false as is_paused, starts_in_trial as is_trial,
        offer_id, price_minor, coalesce(discount_minor, 0) as discount_minor, currency, billing_period
    from starts

    union all

    select
        subscription_id, trial_ends_at as effective_at, occurred_at, event_id || '#trial_end' as event_id,
        null as is_live, null as is_paused, false as is_trial,
        null as offer_id, null as price_minor, null as discount_minor, null as currency, null as billing_period
    from starts
    where starts_in_trial

    union all

    select
        subscription_id, coalesce(effective_at, occurred_at) as effective_at, occurred_at, event_id,
        null as is_live, null as is_paused, null as is_trial,
        offer_id, price_minor, coalesce(discount_minor, 0) as discount_minor, currency, billing_period
    from events
    where event_type = 'subscription.changed'

    union all

    select
        subscription_id, coalesce(period_start, occurred_at) as effective_at, occurred_at, event_id,
        null as is_live, null as is_paused, null as is_trial,
        null as offer_id, price_minor, coalesce(discount_minor, 0) as discount_minor, currency, null as billing_period
    from events
    where event_type = 'subscription.renewed'

    union all

    select
        subscription_id, occurred_at as effective_at, occurred_at, event_id,
        case when event_type = 'subscription.ended' then false end as is_live,
        case event_type
            when 'subscription.paused' then true
            when 'subscription.resumed' then false
        end as is_paused,
        null as is_trial,
        null as offer_id, null as price_minor, null as discount_minor, null as currency, null as billing_period
    from events
    where event_type in ('subscription.paused', 'subscription.resumed', 'subscription.ended')

),

-- every change point in both timelines (only changed / renewed can be known after they take effect:
-- the other change points take effect when they occur, or later for a trial end)
timelines as (

    select 'effective' as timeline, effective_at as change_at, change_points.*
    from change_points

    union all

    select 'known' as timeline, greatest(effective_at, occurred_at) as change_at, change_points.*
    from change_points

),

filled as (

    select
        timelines.timeline,
        timelines.subscription_id,
        cast(timelines.change_at as date) as change_date,
        timelines.change_at,
        timelines.occurred_at,
        timelines.event_id,
        {% for column in ['is_live', 'is_paused', 'is_trial', 'offer_id', 'price_minor', 'discount_minor', 'currency', 'billing_period'] -%}
        last_value(timelines.{{ column }} ignore nulls) over state_window as {{ column }}{{ ',' if not loop.last }}
        {% endfor %}
    from timelines
    window state_window as (
        partition by timelines.timeline, timelines.subscription_id
        order by timelines.change_at, timelines.occurred_at, timelines.event_id
        rows between unbounded preceding and current row
    )

),

end_of_day as (

    select *
    from (
        select
            filled.*,
            row_number() over (
                partition by timeline, subscription_id, change_date
                order by change_at desc, occurred_at desc, event_id desc
            ) as rank_in_day
        from filled
        cross join as_of
        where filled.change_date <= as_of.as_of_date
    ) as ranked
    where rank_in_day = 1

),

states as (

    select
        end_of_day.timeline,
        end_of_day.subscription_id,
        starts.customer_id,
        starts.platform,
        end_of_day.change_date as valid_from,
        lead(end_of_day.change_date) over (
            partition by end_of_day.timeline, end_of_day.subscription_id order by end_of_day.change_date
        ) as valid_to,
        end_of_day.offer_id,
        end_of_day.currency,
        end_of_day.billing_period,
        end_of_day.price_minor,
        end_of_day.discount_minor,
        coalesce(end_of_day.is_live, false) as is_live,
        coalesce(end_of_day.is_live, false) and coalesce(end_of_day.is_paused, false) as is_paused,
        coalesce(end_of_day.is_live, false) and coalesce(end_of_day.is_trial, false) as is_trial,
        {{ monthly_amount('greatest(end_of_day.price_minor - coalesce(end_of_day.discount_minor, 0), 0)', 'end_of_day.billing_period') }} as monthly_amount_local
    from end_of_day
    inner join starts on end_of_day.subscription_id = starts.subscription_id

),

final as (

    select
        timeline,
        subscription_id,
        customer_id,
        valid_from,
        valid_to,
        offer_id,
        platform,
        currency,
        billing_period,
        price_minor,
        discount_minor,
        is_live,
        is_paused,
        is_trial,
        case
            when is_live and not is_paused and not is_trial then monthly_amount_local
            else cast(0 as decimal(38, 6))
        end as mrr_local,
        case
            when is_live and not is_paused and is_trial then monthly_amount_local
            else cast(0 as decimal(38, 6))
        end as trial_mrr_local,
        monthly_amount_local
    from states

)

select * from final
