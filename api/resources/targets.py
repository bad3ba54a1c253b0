"""Monthly targets, progress against them, and the leaderboard."""

from flask.views import MethodView

from api.auth import auth_required, current_principal
from api.extensions import Blueprint, db
from api.models import Role
from api.services.supervision import leaderboard as board
from api.services.supervision import progress
from api.services.supervision import targets as month_targets
from schemas import targets as s

blp = Blueprint("targets", __name__, description="Targets, progress and the leaderboard")

READERS = (Role.COLLECTOR, Role.SUPERVISOR, Role.ADMIN)
OTHER_TEAM = "Another team's targets or progress, or another collector's (for a collector)"


@blp.route("/targets")
class Targets(MethodView):
    @auth_required(*READERS)
    @blp.arguments(s.TargetsQuerySchema, location="query")
    @blp.response(200, s.TargetsSchema)
    @blp.alt_response(403, description=OTHER_TEAM)
    @blp.alt_response(422, description="A malformed month, or no such team")
    def get(self, args):
        """A month's targets for a team and its collectors, with the weekly and daily split

        A month's target is split evenly over its working days, Monday to Saturday (Sundays
        carry none): the k-th of N working days gets floor(T·k/N) − floor(T·(k−1)/N), so days
        and weeks (Monday to Sunday, clipped to the month) add up to the month exactly. With
        no team row set, the team's amounts are the sum of its collectors' (`derived`).
        Collectors get their own row only."""
        found = month_targets.month_targets(db.session, current_principal(), args.get("team_id"),
                                            args.get("month"), args.get("collector_id"))
        db.session.commit()
        return found

    @auth_required(Role.SUPERVISOR, Role.ADMIN)
    @blp.arguments(s.SetTargetsSchema)
    @blp.response(200, s.TargetsSchema)
    @blp.alt_response(403, description="Another team's targets (supervisors set their own)")
    @blp.alt_response(422, description="A month in the past in the team's time zone, a "
                      "negative amount, a share above 10000, a collector not of the team (or "
                      "given twice), no team, or no such team; nothing is saved")
    def put(self, args):
        """Set or replace a month's targets for a team and its collectors

        Replaces every target of the team for that month with those given: the team's own
        (`team`) and one per collector. A collector left out loses their target for the month;
        an empty body list clears them. Amounts are fen, the M2 account share basis points."""
        found = month_targets.set_month_targets(db.session, current_principal(), args)
        db.session.commit()
        return found


@blp.route("/progress")
class Progress(MethodView):
    @auth_required(*READERS)
    @blp.arguments(s.ProgressQuerySchema, location="query")
    @blp.response(200, s.ProgressSchema)
    @blp.alt_response(403, description=OTHER_TEAM)
    @blp.alt_response(422, description="A malformed month or date, `month` with a week or "
                      "day, `date` with a month, `as_of` in the future, or no such team")
    def get(self, args):
        """Progress against targets, for the team and each collector, as of a stated time

        Recovered money (imported payments and field receipts, never the same money twice) by
        the case's bucket at the start of the month, M2 account share, promises made and the
        kept rate, visits with geofence and visit-hour compliance, each against the period's
        share of its target with the pace expected by `as_of`'s day (`on_track`/`behind`).
        Figures go to whoever held the case when it happened (the assignment history); field
        records count once received by `as_of`. The rules in full are in
        `api.services.supervision.progress`. Collectors get their own figures only."""
        found = progress.team_progress(
            db.session, current_principal(), team_id=args.get("team_id"),
            period=args["period"], month=args.get("month"), day=args.get("day"),
            as_of=args.get("as_of"), collector_id=args.get("collector_id"))
        db.session.commit()
        return found


@blp.route("/progress/leaderboard")
class Leaderboard(MethodView):
    @auth_required(Role.SUPERVISOR, Role.ADMIN)
    @blp.arguments(s.LeaderboardQuerySchema, location="query")
    @blp.response(200, s.LeaderboardSchema)
    @blp.alt_response(403, description="Another team's leaderboard")
    @blp.alt_response(422, description="As for progress")
    def get(self, args):
        """The team's collectors ranked by recovery and compliance together

        score = min(recovery achieved, 150%) × geofence compliance × visit-hour compliance,
        where recovery achieved is money recovered over the period's share of the recovery
        target (or of the bucket targets' sum) and each compliance is the share of visits
        without that flag (100% with no visits). Both columns are always shown. Collectors
        without a recovery target have no score and come last; ties go to higher compliance,
        then more money, then the lower id."""
        found = board.leaderboard(
            db.session, current_principal(), team_id=args.get("team_id"),
            period=args["period"], month=args.get("month"), day=args.get("day"),
            as_of=args.get("as_of"))
        db.session.commit()
        return found
