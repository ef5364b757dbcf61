{% test single_row(model) %}
select n from (select count(*) as n from {{ model }}) as counted where n <> 1
{% endtest %}
