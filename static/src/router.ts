import { createRouter, createWebHistory, type RouteRecordRaw } from "vue-router";
import { useAuth } from "./stores/auth";

// `public`: reachable without an account; `bare`: shown without the sidebar and player (login, sign-up, first run).
const routes: RouteRecordRaw[] = [
  { path: "/setup", component: () => import("./views/FirstRun.vue"), meta: { public: true, bare: true, title: "Welcome" } },
  { path: "/login", component: () => import("./views/LoginView.vue"), meta: { public: true, bare: true, title: "Log in" } },
  { path: "/signup", component: () => import("./views/SignUp.vue"), meta: { public: true, bare: true, title: "Sign up" } },
  { path: "/auth/password/reset", component: () => import("./views/PasswordResetView.vue"), meta: { public: true, bare: true, title: "Reset your password" } },
  {
    path: "/auth/password/reset/confirm",
    component: () => import("./views/PasswordResetConfirmView.vue"),
    meta: { public: true, bare: true, title: "Choose a new password" },
  },
  { path: "/", component: () => import("./views/HomeView.vue"), meta: { title: "Home" } },
  { path: "/search", component: () => import("./views/SearchView.vue"), meta: { title: "Search" } },
  { path: "/library", redirect: "/library/albums" },
  { path: "/library/artists", component: () => import("./views/ArtistsView.vue"), meta: { title: "Artists" } },
  { path: "/library/artists/:id", component: () => import("./views/ArtistDetail.vue"), meta: { title: "Artist" } },
  { path: "/library/albums", component: () => import("./views/AlbumsView.vue"), meta: { title: "Albums" } },
  { path: "/library/albums/:id", component: () => import("./views/AlbumDetail.vue"), meta: { title: "Album" } },
  { path: "/library/tracks", component: () => import("./views/TracksView.vue"), meta: { title: "Tracks" } },
  { path: "/library/tags", component: () => import("./views/TagsView.vue"), meta: { title: "Tags" } },
  { path: "/library/tags/:name", component: () => import("./views/TagDetail.vue"), meta: { title: "Tag" } },
  { path: "/uploads", component: () => import("./views/UploadsView.vue"), meta: { title: "My libraries" } },
  { path: "/libraries/follow", component: () => import("./views/FollowLibraryView.vue"), meta: { title: "Follow a library" } },
  { path: "/libraries/following", component: () => import("./views/FollowsView.vue"), meta: { title: "My follows" } },
  { path: "/notifications", component: () => import("./views/NotificationsView.vue"), meta: { title: "Notifications" } },
  { path: "/favorites", component: () => import("./views/FavoritesView.vue"), meta: { title: "Favorites" } },
  { path: "/history", component: () => import("./views/HistoryView.vue"), meta: { title: "History" } },
  { path: "/playlists", component: () => import("./views/PlaylistsView.vue"), meta: { title: "Playlists" } },
  { path: "/library/playlists/:id", redirect: (to) => `/playlists/${to.params.id}` }, // Funkwhale's address
  { path: "/playlists/:id", component: () => import("./views/PlaylistDetail.vue"), meta: { title: "Playlist" } },
  { path: "/radios", component: () => import("./views/RadiosView.vue"), meta: { title: "Radios" } },
  { path: "/settings", component: () => import("./views/SettingsView.vue"), meta: { title: "Settings" } },
  { path: "/settings/applications", component: () => import("./views/ApplicationsView.vue"), meta: { title: "Applications" } },
  { path: "/settings/applications/new", component: () => import("./views/NewApplicationView.vue"), meta: { title: "New application" } },
  // Third-party apps send listeners here (Funkwhale's address): logged in first, shown without the app around it.
  { path: "/authorize", component: () => import("./views/AuthorizeView.vue"), meta: { bare: true, title: "Allow an app" } },
  { path: "/:rest(.*)*", component: () => import("./views/NotFound.vue"), meta: { public: true, title: "Not found" } },
];

export const router = createRouter({
  history: createWebHistory(),
  routes,
  scrollBehavior: (_to, _from, saved) => saved ?? { top: 0 },
});

router.beforeEach(async (to) => {
  const auth = useAuth();
  if (!auth.ready) await auth.init();
  if (auth.loggedIn && to.meta.public && to.path !== "/" && to.matched[0]?.path !== "/:rest(.*)*") return "/";
  if (!auth.loggedIn && auth.firstRun && to.path !== "/setup") return "/setup";
  if (!auth.loggedIn && !to.meta.public) return { path: "/login", query: to.fullPath === "/" ? {} : { next: to.fullPath } };
  return true;
});

router.afterEach((to) => {
  const auth = useAuth();
  document.title = `${(to.meta.title as string) ?? "Music"} · ${auth.instanceName}`;
});
