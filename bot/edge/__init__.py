"""The Bot Framework edge: everything that speaks the Bot Framework protocol.

HTTP in (`http`), who may call (`auth`), reading activities (`activity`), the Bot
Connector REST client (`connector`) and the reply path (`replies`). botbuilder is
imported here and nowhere else, so a move to the Microsoft 365 Agents SDK touches this
package only (import-linter keeps it so).
"""
