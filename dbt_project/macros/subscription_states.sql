{#- Subscription x [valid_from, valid_to) of constant state; the SQL of int_subscription_states.
    point_in_time=false (int_subscription_states): a change takes effect at its effective timestamp
    (effective_at of subscription.changed, period_start of subscription.renewed): history as known at
    the as-of date, backdated changes included.
    point_in_time=true (int_subscription_states_pit): a change takes effect at
    greatest(effective timestamp, occurred_at), never before it was known, so the state on date D uses
    only events that occurred by the end of D. started / paused / resumed / ended take effect at
    occurred_at in both; a trial end is scheduled by the start event. -#}
{% macro _known_at(expr, point_in_time) -%}
    {%- if point_in_time -%} greatest({{ expr }}, occurred_at) {%- else -%} {{ expr }} {%- endif -%}
{%- endmacro %}

{#- The CTEs `as_of` and `events` (subscription events up to the as-of date; in an incremental
    run only those of the changed customers), shared with int_subscriptions. -#}
{% macro subscription_event_ctes() -%}
as_of as (

    select * from {{ ref('int_as_of') }}

),

events as (

    select subscription_events.*
    from {{ ref('stg_events__subscriptions') }} as subscription_events
    cross join as_of
    where cast(subscription_events.occurred_at as date) <= as_of.as_of_date
      and subscription_events.subscription_id is not null
      {{ changed_customers_only('subscription_events.customer_id') }}

),
{%- endmacro %}

{% macro subscription_states(point_in_time=false) %}
with

{{ subscription_event_ctes() }}

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

change_points as (

    select
        subscription_id, occurred_at as change_at, occurred_at, event_id,
        true as is_live, false as is_paused, starts_in_trial as is_trial,
        offer_id, price_minor, coalesce(discount_minor, 0) as discount_minor, currency, billing_period
    from starts

    union all

    select
        subscription_id, trial_ends_at as change_at, occurred_at, event_id || '#trial_end' as event_id,
        null as is_live, null as is_paused, false as is_trial,
        null as offer_id, null as price_minor, null as discount_minor, null as currency, null as billing_period
    from starts
    where starts_in_trial

    union all

    select
        subscription_id, {{ _known_at('coalesce(effective_at, occurred_at)', point_in_time) }} as change_at, occurred_at, event_id,
        null as is_live, null as is_paused, null as is_trial,
        offer_id, price_minor, coalesce(discount_minor, 0) as discount_minor, currency, billing_period
    from events
    where event_type = 'subscription.changed'

    union all

    select
        subscription_id, {{ _known_at('coalesce(period_start, occurred_at)', point_in_time) }} as change_at, occurred_at, event_id,
        null as is_live, null as is_paused, null as is_trial,
        null as offer_id, price_minor, coalesce(discount_minor, 0) as discount_minor, currency, null as billing_period
    from events
    where event_type = 'subscription.renewed'

    union all

    select
        subscription_id, occurred_at as change_at, occurred_at, event_id,
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

filled as (

    select
        change_points.subscription_id,
        cast(change_points.change_at as date) as change_date,
        change_points.change_at,
        change_points.occurred_at,
        change_points.event_id,
        {% for column in ['is_live', 'is_paused', 'is_trial', 'offer_id', 'price_minor', 'discount_minor', 'currency', 'billing_period'] -%}
        last_value(change_points.{{ column }} ignore nulls) over state_window as {{ column }}{{ ',' if not loop.last }}
        {% endfor %}
    from change_points
    window state_window as (
        partition by change_points.subscription_id
        order by change_points.change_at, change_points.occurred_at, change_points.event_id
        rows between unbounded preceding and current row
    )

),

end_of_day as (

    select *
    from (
        select
            filled.*,
            row_number() over (
                partition by subscription_id, change_date
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
        end_of_day.subscription_id,
        starts.customer_id,
        starts.platform,
        end_of_day.change_date as valid_from,
        lead(end_of_day.change_date) over (
            partition by end_of_day.subscription_id order by end_of_day.change_date
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
        {%- if point_in_time %},
        -- history that customer_months needs for its as-of month, kept here so that it does not
        -- re-read every customer's whole history each day (this table is rebuilt by customer)
        min(valid_from) over (partition by subscription_id) as subscription_started_on,
        lag(monthly_amount_local) over by_subscription as previous_monthly_amount_local,
        lag(currency) over by_subscription as previous_currency,
        min(case when is_live then valid_from end) over (partition by customer_id) as customer_first_live_on,
        min(case when is_live and not is_paused and not is_trial and monthly_amount_local > 0 then valid_from end)
            over (partition by customer_id) as customer_first_paid_on
        {%- endif %}
    from states
    {%- if point_in_time %}
    window by_subscription as (partition by subscription_id order by valid_from)
    {%- endif %}

)

select * from final
{% endmacro %}
