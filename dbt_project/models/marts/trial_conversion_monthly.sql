-- Trial end month x offer (METRICS.md "Trials"): trial conversion rate = trials whose first paid period
-- started / trials that ended, by trial end month. A trial is a subscription whose trial_ends_at falls
-- on a later day than its start (as int_subscription_states). It ends at trial_ends_at, or earlier when
-- the subscription ends before (then it did not convert); only trials ended by the as-of date count.
-- Converted = the first paid period started (int_subscriptions.first_paid_at: access lasted until the
-- trial end day). Offer = the offer the subscription started with. Totals per month = sums over offers.
with

as_of as (

    select * from {{ ref('int_as_of') }}

),

subscriptions as (

    select * from {{ ref('int_subscriptions') }}

),

trials as (

    select
        subscription_id,
        initial_offer_id,
        case
            when ended_at is not null and cast(ended_at as date) < cast(trial_ends_at as date)
                then cast(ended_at as date)
            else cast(trial_ends_at as date)
        end as trial_ended_on,
        first_paid_at is not null as is_converted
    from subscriptions
    where trial_ends_at is not null
      and cast(trial_ends_at as date) > cast(started_at as date)

),

final as (

    select
        cast({{ dbt.date_trunc('month', 'trials.trial_ended_on') }} as date) as month,
        coalesce(trials.initial_offer_id, 'unknown') as offer_id,
        cast(count(*) as integer) as trials_ended,
        cast(sum(case when trials.is_converted then 1 else 0 end) as integer) as converted,
        cast(sum(case when trials.is_converted then 1 else 0 end) as double) / count(*) as conversion_rate
    from trials
    cross join as_of
    where trials.trial_ended_on <= as_of.as_of_date
    group by 1, 2

)

select * from final
