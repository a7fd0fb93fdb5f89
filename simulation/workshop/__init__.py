"""The workshop page (``sozialraum workshop``): what-if futures of one district in the browser.

- ``levers``: the page's levers and the scenario fields they set
- ``engine``: small ensembles per lever position, inputs read once, runs cached, common random numbers
- ``answers``: the tables the page shows (with the range of the runs), labels from the glossary
- ``charts``: the charts and the map as PNG
- ``store``: saving, listing and reopening workshop scenarios as scenario files
- ``texts``: the page's words in German and English
- ``app``: the Solara page; ``server``: starts it

Nothing here imports Solara except ``app`` and ``server``, so worker processes stay light.
"""
