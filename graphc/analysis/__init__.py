"""Analyses: read a graph (or a plan) and return facts about it (fusion groups, memory offsets); unlike
passes they make no new graph."""
