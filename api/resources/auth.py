"""Login, token refresh and the caller's profile."""

from flask.views import MethodView

from api.auth import auth_required, client_address, current_principal, token_service
from api.extensions import Blueprint, db
from api.input_guards import CREDENTIALS_BODY
from api.models import Role, User
from api.services.identity.tokens import COSIGN_VALID_S, BadCredentials, RefreshTokenReused
from schemas.auth import (
    AttestationSchema,
    CosignSchema,
    LoginSchema,
    MeSchema,
    RefreshSchema,
    TokenPairSchema,
)

blp = Blueprint("auth", __name__, url_prefix="/auth", description="Sign in and tokens")


@blp.route("/login")
class Login(MethodView):
    @blp.body_limit(CREDENTIALS_BODY)
    @blp.arguments(LoginSchema)
    @blp.response(200, TokenPairSchema)
    @blp.alt_response(401, description="Wrong username or password, or account disabled")
    @blp.alt_response(403, description="The device was revoked")
    @blp.alt_response(409, description="The device belongs to another user")
    @blp.alt_response(
        429,
        description="Too many wrong passwords for this username or from this address; "
        "`Retry-After` says when to try again (an administrator can lift a user's lockout)",
    )
    def post(self, args):
        """Sign in from a device; returns a short-lived access token and a refresh token"""
        device = args["device"]
        try:
            pair = token_service().login(
                args["username"],
                args["password"],
                str(device["id"]),
                device["label"],
                device["platform"],
                address=client_address(),
            )
        except BadCredentials:
            db.session.commit()  # keep a lockout's audit row
            raise
        db.session.commit()
        return pair


@blp.route("/refresh")
class Refresh(MethodView):
    @blp.body_limit(CREDENTIALS_BODY)
    @blp.arguments(RefreshSchema)
    @blp.response(200, TokenPairSchema)
    @blp.alt_response(401, description="Unknown, expired, reused or revoked refresh token")
    def post(self, args):
        """Trade a refresh token for a new pair (the old refresh token stops working; sending
        a used one again ends every token of that sign-in)"""
        try:
            pair = token_service().refresh(args["refresh_token"])
        except RefreshTokenReused:
            db.session.commit()  # keep the revocation of the token's family
            raise
        db.session.commit()
        return pair


@blp.route("/logout")
class Logout(MethodView):
    @auth_required()
    @blp.response(204)
    def post(self):
        """Sign out: this sign-in's access token and refresh tokens stop working at once

        Ends only the sign-in the access token was issued with (the device stays registered
        and may sign in again; other devices' and other sign-ins' tokens are untouched).
        Signing out twice answers 401 the second time: the token is gone."""
        token_service().sign_out(current_principal())
        db.session.commit()


@blp.route("/me")
class Me(MethodView):
    @auth_required()
    @blp.response(200, MeSchema)
    def get(self):
        """The signed-in user"""
        principal = current_principal()
        user = db.session.get(User, principal.user_id)
        return {
            "id": user.id,
            "username": user.username,
            "full_name": user.full_name,
            "role": user.role.value,
            "team_id": user.team_id,
            "device_id": principal.device_id,
        }


@blp.route("/cosign")
class Cosign(MethodView):
    @auth_required(Role.COLLECTOR, Role.SUPERVISOR)
    @blp.body_limit(CREDENTIALS_BODY)
    @blp.arguments(CosignSchema)
    @blp.response(200, AttestationSchema)
    @blp.alt_response(401, description="Wrong username or password of the co-collector")
    @blp.alt_response(429, description="Too many wrong passwords (as for sign-in)")
    def post(self, args):
        """A second collector, present at the visit, vouches with their own password on this
        phone; the attestation goes into the visit report (valid for one working day)"""
        try:
            attestation = token_service().cosign(
                args["username"],
                args["password"],
                current_principal().device_id,
                address=client_address(),
            )
        except BadCredentials:
            db.session.commit()  # keep a lockout's audit row
            raise
        return {"attestation": attestation, "expires_in": COSIGN_VALID_S}
