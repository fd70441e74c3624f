"""``python -m lgstats.devdata.real``: rebuild every replay folder that comes from real public data."""

from lgstats.devdata.real import psa, registers, tabular, un_sdg, world_bank

if __name__ == "__main__":
    for path in [*un_sdg.write(), world_bank.write(), psa.write(), *registers.write(), *tabular.write()]:
        print(path)
