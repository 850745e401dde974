"""rskeras"""
