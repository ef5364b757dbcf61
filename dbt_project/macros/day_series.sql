{#- A select producing one row per calendar day (column `day`) from start_expr to end_expr
    inclusive; the date expressions may reference columns of `from_relation` (one row). -#}
{% macro day_series(start_expr, end_expr, from_relation) -%}
    {{ return(adapter.dispatch('day_series', 'churniq')(start_expr, end_expr, from_relation)) }}
{%- endmacro %}

{% macro default__day_series(start_expr, end_expr, from_relation) -%}
    select cast(g.d as date) as day
    from {{ from_relation }}
    cross join lateral generate_series(
        cast({{ start_expr }} as timestamp), cast({{ end_expr }} as timestamp), interval '1 day'
    ) as g(d)
{%- endmacro %}

{% macro duckdb__day_series(start_expr, end_expr, from_relation) -%}
    select cast(unnest(generate_series(cast({{ start_expr }} as date), cast({{ end_expr }} as date), interval 1 day)) as date) as day
    from {{ from_relation }}
{%- endmacro %}
