"""Administration: teams, users, their authorisations, devices, revocation."""

from flask.views import MethodView
from sqlalchemy import select

from api.auth import auth_required, current_principal, token_service
from api.etags import check_if_match, user_etag, with_etag
from api.extensions import Blueprint, db
from api.models import CollectorAuthorisation, Device, Role, Team, User
from api.models.types import utcnow
from api.pagination import paginate
from api.services.compliance import authorisations
from api.services.exceptions import NotFound
from api.services.identity import accounts, audit
from schemas.authorisations import (
    AuthorisationCreateSchema,
    AuthorisationPageSchema,
    AuthorisationRevokeSchema,
    AuthorisationSchema,
)
from schemas.common import PageArgsSchema
from schemas.org import (
    DevicePageSchema,
    DeviceQuerySchema,
    DeviceSchema,
    PasswordResetSchema,
    TeamCreateSchema,
    TeamPageSchema,
    TeamSchema,
    TeamUpdateSchema,
    UserCreateSchema,
    UserPageSchema,
    UserQuerySchema,
    UserSchema,
    UserUpdateSchema,
)

blp = Blueprint(
    "admin", __name__, url_prefix="/admin", description="Teams, users and devices (administrators)"
)
ADMIN = Role.ADMIN


@blp.route("/teams")
class Teams(MethodView):
    @auth_required(Role.ADMIN, Role.SUPERVISOR, Role.LEGAL)
    @blp.arguments(PageArgsSchema, location="query")
    @blp.response(200, TeamPageSchema)
    def get(self, args):
        """List teams"""
        return paginate(db.session, select(Team), args, Team.code)

    @auth_required(ADMIN)
    @blp.arguments(TeamCreateSchema)
    @blp.response(201, TeamSchema)
    @blp.alt_response(409, description="Team code taken")
    def post(self, args):
        """Create a team (branch)"""
        team = accounts.create_team(db.session, **args)
        db.session.commit()
        return team


@blp.route("/teams/<int:team_id>")
class TeamById(MethodView):
    @auth_required(Role.ADMIN, Role.SUPERVISOR, Role.LEGAL)
    @blp.response(200, TeamSchema)
    @blp.alt_response(404, description="No such team")
    def get(self, team_id):
        """Get a team"""
        team = db.session.get(Team, team_id)
        if team is None:
            raise NotFound("No such team.")
        return team

    @auth_required(ADMIN)
    @blp.arguments(TeamUpdateSchema)
    @blp.response(200, TeamSchema)
    @blp.alt_response(404, description="No such team")
    @blp.alt_response(409, description="Team code taken (`code`)")
    @blp.alt_response(422, description="A code of the wrong form, an empty name or an "
                      "unknown time zone (the field is named)")
    def patch(self, args, team_id):
        """Change a team's code, name or time zone (IANA, e.g. `Asia/Shanghai`; the zone its
        routes' days and shifts are planned in from now on). Audited."""
        # Locked until commit, so two administrators' code checks cannot interleave.
        if db.session.get(Team, team_id, with_for_update=True) is None:
            raise NotFound("No such team.")
        team = accounts.update_team(db.session, team_id, args)
        audit.record(db.session, current_principal(), "admin.team_changed",
                     detail={"team_id": team.id, "fields": sorted(args)})
        db.session.commit()
        return team


@blp.route("/users")
class Users(MethodView):
    @auth_required(ADMIN)
    @blp.arguments(UserQuerySchema, location="query")
    @blp.response(200, UserPageSchema)
    def get(self, args):
        """List users"""
        stmt = select(User)
        if "role" in args:
            stmt = stmt.where(User.role == args["role"])
        if "team_id" in args:
            stmt = stmt.where(User.team_id == args["team_id"])
        return paginate(db.session, stmt, args, User.username)

    @auth_required(ADMIN)
    @blp.arguments(UserCreateSchema)
    @blp.response(201, UserSchema)
    @blp.alt_response(409, description="Username taken")
    @blp.alt_response(422, description="No such team, or a base with one coordinate, out of "
                      "range or in an unknown datum (the field is named)")
    def post(self, args):
        """Create a user (a collector's base, where their day starts, in any datum: it is
        stored in WGS-84)

        A new collector holds no authorisation: record the certificate they were issued
        (`POST /admin/users/{user_id}/authorisations`) before they are assigned or planned
        under a policy that requires one (`collector_authorised`)."""
        user = accounts.create_user(db.session, **args)
        db.session.commit()
        return user


@blp.route("/users/<int:user_id>")
class UserById(MethodView):
    @auth_required(ADMIN)
    @blp.response(200, UserSchema, etag=True)
    @blp.alt_response(404, description="No such user")
    def get(self, user_id):
        """Get a user (its `ETag` is for `If-Match` on a change)"""
        user = db.session.get(User, user_id)
        if user is None:
            raise NotFound("No such user.")
        return with_etag(user, user_etag(user))

    @auth_required(ADMIN)
    @blp.arguments(UserUpdateSchema)
    @blp.response(200, UserSchema, etag=True)
    @blp.if_match()
    @blp.alt_response(404, description="No such user")
    @blp.alt_response(422, description="No such team, or a base with one coordinate, out of "
                      "range or in an unknown datum (the field is named)")
    def patch(self, args, user_id):
        """Change a user's name, role, team, base, password or active flag (deactivating or a
        new password revokes their tokens)

        With `If-Match` (the user's `ETag`), the change is refused with 412 if another
        administrator changed the user since you read it."""
        # Locked until commit, so two administrators' checks and changes cannot interleave.
        user = db.session.get(User, user_id, with_for_update={"of": User})
        if user is None:
            raise NotFound("No such user.")
        check_if_match(user_etag(user))
        user = accounts.update_user(db.session, user_id, args)
        etag = user_etag(user)
        db.session.commit()
        return with_etag(user, etag)


@blp.route("/users/<int:user_id>/revoke")
class RevokeUser(MethodView):
    @auth_required(ADMIN)
    @blp.response(204)
    @blp.alt_response(404, description="No such user")
    def post(self, user_id):
        """Revoke every token the user holds, at once"""
        token_service().revoke_user(user_id)
        db.session.commit()


@blp.route("/users/<int:user_id>/password")
class ResetPassword(MethodView):
    @auth_required(ADMIN)
    @blp.response(200, PasswordResetSchema)
    @blp.alt_response(404, description="No such user")
    def post(self, user_id):
        """Reset a user's password to a generated one, answered this once (only its hash is
        kept); every token the user holds ends. Give it to them in person. Audited."""
        user, password = accounts.reset_password(db.session, user_id)
        audit.record(db.session, current_principal(), "admin.password_reset",
                     detail={"user_id": user.id})
        db.session.commit()
        return {"password": password}


@blp.route("/users/<int:user_id>/lockout")
class UserLockout(MethodView):
    @auth_required(ADMIN)
    @blp.response(204)
    @blp.alt_response(404, description="No such user")
    def delete(self, user_id):
        """Lift the user's sign-in lockout after too many wrong passwords (their failed
        attempts are forgotten; the lockout of an address expires by itself)"""
        token_service().lift_lockout(user_id, current_principal())
        db.session.commit()


@blp.route("/users/<int:user_id>/authorisations")
class UserAuthorisations(MethodView):
    @auth_required(ADMIN)
    @blp.arguments(PageArgsSchema, location="query")
    @blp.response(200, AuthorisationPageSchema)
    @blp.alt_response(404, description="No such user")
    def get(self, args, user_id):
        """List a collector's authorisations (certificates), newest first, revoked ones too"""
        stmt = authorisations.list_for(db.session, current_principal(), user_id)
        return paginate(db.session, stmt, args, CollectorAuthorisation.granted_at.desc(),
                        CollectorAuthorisation.id.desc())

    @auth_required(ADMIN)
    @blp.arguments(AuthorisationCreateSchema)
    @blp.response(201, AuthorisationSchema)
    @blp.alt_response(404, description="No such user")
    @blp.alt_response(422, description="Not a collector, or an expiry before `valid_from` "
                      "(the field is named)")
    def post(self, args, user_id):
        """Record a collector's authorisation for a lender (`*`: any) in a jurisdiction

        Valid from `valid_from` through `expires_on` (its last day; null: no expiry). Where
        the case's policy has `collector_authorisation_required`, a collector is assigned or
        planned only on a day one of their authorisations covers the case's lender and
        jurisdiction; otherwise the request is refused (`rule_breach`, rule
        `collector_authorised`). Audited."""
        row = authorisations.grant_by_admin(db.session, current_principal(), user_id, args)
        db.session.commit()
        return row


@blp.route("/users/<int:user_id>/authorisations/<int:authorisation_id>/revoke")
class RevokeAuthorisation(MethodView):
    @auth_required(ADMIN)
    @blp.arguments(AuthorisationRevokeSchema)
    @blp.response(200, AuthorisationSchema)
    @blp.alt_response(404, description="No such authorisation of this user")
    @blp.alt_response(409, description="Already revoked")
    def post(self, args, user_id, authorisation_id):
        """Revoke an authorisation at once, with the reason; it stays on file. Cases already
        held are not taken back, but no new assignment or plan relies on it. Audited."""
        row = authorisations.revoke(db.session, current_principal(), user_id, authorisation_id,
                                    reason=args["reason"], now=utcnow())
        db.session.commit()
        return row


@blp.route("/devices")
class Devices(MethodView):
    @auth_required(ADMIN)
    @blp.arguments(DeviceQuerySchema, location="query")
    @blp.response(200, DevicePageSchema)
    def get(self, args):
        """List registered devices"""
        stmt = select(Device)
        if "user_id" in args:
            stmt = stmt.where(Device.user_id == args["user_id"])
        return paginate(db.session, stmt, args, Device.registered_at)


@blp.route("/devices/<string:device_id>/revoke")
class RevokeDevice(MethodView):
    @auth_required(ADMIN)
    @blp.response(200, DeviceSchema)
    @blp.alt_response(404, description="No such device")
    def post(self, device_id):
        """Revoke a device: its access and refresh tokens stop working at once"""
        device = token_service().revoke_device(device_id)
        db.session.commit()
        return device
