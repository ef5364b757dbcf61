-- One row per retention campaign x experiment group (treatment / control), intent to treat: every
-- member counts in the group they were assigned to (retention.action_taken), whether or not the
-- coupon could be applied. Launch = the campaign's first assignment; launch day = its date.
--   members           customers assigned to the group
--   paying_at_launch  members with MRR > 0 before the launch day (their last MRR movement before it);
--                     the denominators of the churn rates (a member who did not pay cannot churn)
--   churned           of those, members with a `churn` movement on or after the launch day, up to the
--                     as-of date (their last subscription ended; a later come-back still counts)
--   churned_within_30d / _90d  the churn movement within 30 / 90 days of the launch day; the
--                     campaign's `observed_days` (as-of date - launch day) says whether the window
--                     is complete (observable_30d / _90d)
--   mrr_at_launch / mrr_now     the paying members' MRR before the launch day and at the as-of date
--                     (dim_customers.current_mrr), in the reporting currency
with

as_of as (

    select * from {{ ref('int_as_of') }}

),

actions as (

    select * from {{ ref('stg_events__retention_actions') }}
    where campaign_id is not null

),

movements as (

    select * from {{ ref('fct_mrr_movements') }}

),

customers as (

    select * from {{ ref('dim_customers') }}

),

members as (

    select
        campaign_id,
        customer_id,
        arg_min(experiment_group, action_at) as experiment_group
    from actions
    group by campaign_id, customer_id

),

launches as (

    select
        campaign_id,
        min(action_at) as launched_at,
        cast(min(action_at) as date) as launch_date,
        arg_min(coupon_id, action_at) as coupon_id,
        arg_min(action, action_at) as action
    from actions
    group by campaign_id

),

at_launch as (

    select
        members.campaign_id,
        members.customer_id,
        arg_max(movements.mrr_after, movements.movement_date) as mrr_at_launch
    from members
    inner join launches on members.campaign_id = launches.campaign_id
    inner join movements
        on members.customer_id = movements.customer_id
        and movements.movement_date < launches.launch_date
    group by members.campaign_id, members.customer_id

),

first_churn as (

    select
        members.campaign_id,
        members.customer_id,
        min(movements.movement_date) as churned_on
    from members
    inner join launches on members.campaign_id = launches.campaign_id
    inner join movements
        on members.customer_id = movements.customer_id
        and movements.movement_type = 'churn'
        and movements.movement_date >= launches.launch_date
    group by members.campaign_id, members.customer_id

),

outcomes as (

    select
        members.campaign_id,
        members.experiment_group,
        launches.launch_date,
        coalesce(at_launch.mrr_at_launch, 0) > 0 as is_paying_at_launch,
        coalesce(at_launch.mrr_at_launch, 0) as mrr_at_launch,
        coalesce(customers.current_mrr, 0) as mrr_now,
        first_churn.churned_on
    from members
    inner join launches on members.campaign_id = launches.campaign_id
    left join at_launch
        on members.campaign_id = at_launch.campaign_id
        and members.customer_id = at_launch.customer_id
    left join first_churn
        on members.campaign_id = first_churn.campaign_id
        and members.customer_id = first_churn.customer_id
    left join customers on members.customer_id = customers.customer_id

),

final as (

    select
        outcomes.campaign_id,
        outcomes.experiment_group,
        launches.action,
        launches.coupon_id,
        launches.launched_at,
        launches.launch_date,
        {{ dbt.datediff('launches.launch_date', 'as_of.as_of_date', 'day') }} as observed_days,
        {{ dbt.dateadd('day', 30, 'launches.launch_date') }} <= as_of.as_of_date as observable_30d,
        {{ dbt.dateadd('day', 90, 'launches.launch_date') }} <= as_of.as_of_date as observable_90d,
        count(*) as members,
        count(*) filter (where outcomes.is_paying_at_launch) as paying_at_launch,
        count(*) filter (
            where outcomes.is_paying_at_launch and outcomes.churned_on <= as_of.as_of_date
        ) as churned,
        count(*) filter (
            where outcomes.is_paying_at_launch
            and outcomes.churned_on <= as_of.as_of_date
            and outcomes.churned_on <= {{ dbt.dateadd('day', 30, 'launches.launch_date') }}
        ) as churned_within_30d,
        count(*) filter (
            where outcomes.is_paying_at_launch
            and outcomes.churned_on <= as_of.as_of_date
            and outcomes.churned_on <= {{ dbt.dateadd('day', 90, 'launches.launch_date') }}
        ) as churned_within_90d,
        cast(coalesce(sum(outcomes.mrr_at_launch) filter (where outcomes.is_paying_at_launch), 0)
            as decimal(38, 6)) as mrr_at_launch,
        cast(coalesce(sum(outcomes.mrr_now) filter (where outcomes.is_paying_at_launch), 0)
            as decimal(38, 6)) as mrr_now
    from outcomes
    inner join launches on outcomes.campaign_id = launches.campaign_id
    cross join as_of
    group by all

)

select
    *,
    churned / nullif(paying_at_launch, 0) as churn_rate,
    mrr_now / nullif(mrr_at_launch, 0) as revenue_retention
from final
