from simulation.cli import app

app(prog_name="sozialraum")
