// The administrator's screens, each in its own module: users, teams, imports, policies.
export { usersScreen } from "./users";
export { teamsScreen } from "./teams";
export { importScreen, importsScreen } from "./imports";
export { policiesScreen } from "./policies";
