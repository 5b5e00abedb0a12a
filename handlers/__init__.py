"""What the bot says and does. Knows no platform and no HTTP: handlers take an `Incoming`
and a `Context` and return `Outgoing` replies."""

from bot.router import Router


def build_router() -> Router:
    """Every feature's router, in order; later ones override the "coming soon" answers."""
    from handlers import (
        dossiers,
        feedback,
        mydossiers,
        offices,
        privacy,
        procedures,
        staff,
        start,
        subscriptions,
        surveys,
    )

    router = Router()
    router.include(start.router)
    router.include(dossiers.router)
    router.include(feedback.router)
    router.include(staff.router)
    router.include(privacy.router)  # after dossiers: "dossier:sub" asks about letters, surveys
    router.include(surveys.router)
    router.include(subscriptions.router)  # after staff: notice steps before the ticket relay
    router.include(mydossiers.router)
    router.include(offices.router)  # counter questions before procedure search
    router.include(procedures.router)  # free text is a procedure search: keep it last
    return router
