{{ incremental_by_customer() }}
-- One row per customer x day with an MRR movement (METRICS.md table). a = mrr_before,
-- b = mrr_after, both at the day's rate.
--   new           a = 0, b > 0, never had MRR (or came back after more than reactivation_window_days)
--   reactivation  a = 0, b > 0, had MRR, churned since, came back (within the window when one is set)
--   resume        a = 0, b > 0, a paused subscription resumed
--   expansion     0 < a < b  (also a = 0 < b for a customer whose live subscriptions had dropped to a
--                 zero price without pause or churn, e.g. a 100 % discount ending)
--   contraction   0 < b < a  (also b = 0 < a while non-paused live subscriptions remain at zero MRR)
--   churn         a > 0, b = 0, the customer's last live subscription ended; also a row with
--                 mrr_change 0 when a customer's last subscription ends while paused (the MRR already
--                 left with the pause; the customer churns now)
--   pause         a > 0, b = 0, a subscription is paused
with

changes as (

    select * from {{ ref('int_customer_mrr_changes') }}
    where true {{ changed_customers_only('customer_id') }}

),

history as (

    select
        changes.*,
        max(case when mrr_after > 0 then 1 else 0 end) over previous_rows as had_mrr_before,
        max(case when mrr_before > 0 and mrr_after = 0 then change_date end) over previous_rows
            as last_drop_date,
        last_value(case when mrr_before > 0 and mrr_after = 0 then paused_subscriptions_after > 0 end ignore nulls)
            over previous_rows as last_drop_was_pause,
        max(case when live_subscriptions_after = 0 then change_date end) over previous_rows
            as last_churn_date
    from changes
    window previous_rows as (
        partition by customer_id order by change_date
        rows between unbounded preceding and 1 preceding
    )

),

flagged as (

    select
        history.*,
        -- since the last drop to zero MRR the customer always kept a live subscription
        last_drop_date is not null
            and (last_churn_date is null or last_churn_date < last_drop_date) as kept_subscription_since_drop
    from history

),

classified as (

    select
        flagged.*,
        case
            when mrr_before = 0 and mrr_after > 0 then
                case
                    when coalesce(had_mrr_before, 0) = 0 then 'new'
                    when paused_subscriptions_after < paused_subscriptions_before then 'resume'
                    when kept_subscription_since_drop and not last_drop_was_pause then 'expansion'
                    {% if var('reactivation_window_days') is not none -%}
                    when last_churn_date is not null
                        and {{ dbt.datediff('last_churn_date', 'change_date', 'day') }} > {{ var('reactivation_window_days') | int }}
                        then 'new'
                    {% endif -%}
                    else 'reactivation'
                end
            when mrr_before > 0 and mrr_after = 0 then
                case
                    when paused_subscriptions_after > 0 then 'pause'
                    when live_subscriptions_after = 0 then 'churn'
                    else 'contraction'
                end
            when mrr_before > 0 and mrr_after > mrr_before then 'expansion'
            when mrr_before > 0 and mrr_after < mrr_before then 'contraction'
            when mrr_before = 0 and mrr_after = 0
                and live_subscriptions_before > 0 and live_subscriptions_after = 0
                and kept_subscription_since_drop then 'churn'
        end as movement_type
    from flagged

),

final as (

    select
        change_date as movement_date,
        customer_id,
        movement_type,
        cast(mrr_after - mrr_before as decimal(38, 22)) as mrr_change,
        mrr_before,
        mrr_after,
        case when movement_type = 'churn' then coalesce(ended_churn_type, 'voluntary') end as churn_type
    from classified
    where movement_type is not null

)

select * from final
