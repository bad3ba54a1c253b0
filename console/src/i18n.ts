// Labels in Chinese and English; the choice is kept in the browser.
const zh = {
  app: "外访管理台",
  signIn: "登录",
  signOut: "退出",
  username: "用户名",
  password: "密码",
  signingIn: "正在登录…",
  collectorRefused: "外访员请使用手机应用；管理台供主管、法务和管理员使用。",
  sessionEnded: "会话已结束，请重新登录。未提交的表单已保留。",
  language: "English",
  languageName: "切换语言",
  queue: "案件队列",
  map: "路线地图",
  legal: "案件查询",
  search: "搜索",
  searchHint: "合同号、姓名、证件号、车牌、电话",
  bucket: "逾期阶段",
  status: "状态",
  any: "全部",
  unassigned: "仅未分配",
  apply: "筛选",
  select: "选择",
  selectAll: "全选本页",
  contract: "合同号",
  debtor: "债务人",
  dpd: "逾期天数",
  overdue: "逾期金额",
  outstanding: "未还本金",
  collector: "外访员",
  team: "团队",
  none: "—",
  noCases: "没有符合条件的案件。",
  page: "第 {page} / {pages} 页，共 {total} 件",
  previous: "上一页",
  next: "下一页",
  bulkAssign: "批量分配",
  selected: "已选 {n} 件",
  assignTo: "分配给",
  backToTeam: "退回团队（不指定外访员）",
  reason: "原因",
  assign: "分配",
  assigned: "已分配 {n} 件，{m} 件未变。",
  day: "日期",
  show: "显示",
  noRoute: "该日没有此外访员的路线。",
  stops: "站点",
  unplanned: "未排入",
  distance: "总里程 {km} 公里",
  tiles: "底图",
  noTiles: "无底图（仅显示站点和路线）",
  caseFile: "案件",
  timeline: "时间线",
  noEntries: "暂无记录。",
  matchedOn: "匹配",
  back: "返回",
  loading: "加载中…",
  error: "出错了：",
  status_active: "催收中", status_promised: "已承诺", status_partly_paid: "部分还款",
  status_settled: "已结清", status_legal: "法务", status_written_off: "已核销",
  kind_contact_attempt: "联系尝试", kind_case_note: "备注", kind_visit_report: "外访报告",
  kind_repayment_promise: "还款承诺", kind_field_receipt: "现场收款", kind_notice_served: "送达通知",
  kind_vehicle_sighting: "车辆目击", kind_repossession: "收车", kind_field_proposal: "现场信息",
  kind_payment: "还款", kind_assignment: "分配",
  planDay: "规划当日路线",
  planning: "正在规划…",
  nothingToPlan: "该外访员没有可规划的案件。",
  exceptions: "异常事项",
  noExceptions: "没有待处理的异常。",
  note: "处理说明",
  noteNeeded: "请填写处理说明。",
  acknowledge: "确认",
  resolve: "解决",
  acknowledgedOne: "已确认。",
  resolvedOne: "已解决。",
  evidence: "证据",
  evidenceMap: "拍摄地点",
  noEvidence: "本案暂无证据文件。",
  capturedAt: "拍摄时间",
  place: "地点",
  downloadOriginal: "下载原件",
  custody: "保管链",
  declaredAt: "申报时间",
  uploader: "上传人",
  device: "设备",
  receivedAt: "接收时间",
  completedAt: "校验时间",
  size: "大小",
  accesses: "访问记录",
  noAccesses: "尚无访问。",
  pack: "证据包",
  packs: "证据包",
  noPacks: "尚未导出证据包。",
  files: "个文件",
  requestPack: "申请证据包",
  packProgress: "证据包进度",
  packQueued: "已排队…",
  packBuilding: "正在打包：{done} / {total}",
  packFailed: "证据包生成失败：",
  packReady: "证据包已生成（{files} 个文件）。",
  downloadPack: "下载证据包",
};

type Labels = typeof zh;

const en: Labels = {
  app: "Field visit console",
  signIn: "Sign in",
  signOut: "Sign out",
  username: "Username",
  password: "Password",
  signingIn: "Signing in…",
  collectorRefused: "Collectors use the phone app; the console is for supervisors, legal staff and administrators.",
  sessionEnded: "Your session has ended; sign in again. Your unsent form is kept.",
  language: "中文",
  languageName: "Switch language",
  queue: "Case queue",
  map: "Route map",
  legal: "Find a case",
  search: "Search",
  searchHint: "contract, name, ID, plate, phone",
  bucket: "Bucket",
  status: "Status",
  any: "Any",
  unassigned: "Unassigned only",
  apply: "Filter",
  select: "Select",
  selectAll: "Select the page",
  contract: "Contract",
  debtor: "Debtor",
  dpd: "Days past due",
  overdue: "Overdue",
  outstanding: "Outstanding",
  collector: "Collector",
  team: "Team",
  none: "—",
  noCases: "No case matches.",
  page: "Page {page} of {pages}, {total} cases",
  previous: "Previous",
  next: "Next",
  bulkAssign: "Assign in bulk",
  selected: "{n} selected",
  assignTo: "Assign to",
  backToTeam: "Back to the team (no collector)",
  reason: "Reason",
  assign: "Assign",
  assigned: "{n} assigned, {m} unchanged.",
  day: "Day",
  show: "Show",
  noRoute: "No route for this collector on that day.",
  stops: "Stops",
  unplanned: "Not planned",
  distance: "{km} km in all",
  tiles: "Base map",
  noTiles: "No base map (stops and route only)",
  caseFile: "Case",
  timeline: "Timeline",
  noEntries: "Nothing yet.",
  matchedOn: "Matched on",
  back: "Back",
  loading: "Loading…",
  error: "Error: ",
  status_active: "Active", status_promised: "Promised", status_partly_paid: "Partly paid",
  status_settled: "Settled", status_legal: "Legal", status_written_off: "Written off",
  kind_contact_attempt: "Contact attempt", kind_case_note: "Note", kind_visit_report: "Visit report",
  kind_repayment_promise: "Promise", kind_field_receipt: "Field receipt", kind_notice_served: "Notice served",
  kind_vehicle_sighting: "Vehicle sighting", kind_repossession: "Repossession", kind_field_proposal: "Field proposal",
  kind_payment: "Payment", kind_assignment: "Assignment",
  planDay: "Plan the day",
  planning: "Planning…",
  nothingToPlan: "This collector holds no case to plan.",
  exceptions: "Exceptions",
  noExceptions: "Nothing needs attention.",
  note: "Note",
  noteNeeded: "Say how it was resolved.",
  acknowledge: "Acknowledge",
  resolve: "Resolve",
  acknowledgedOne: "Acknowledged.",
  resolvedOne: "Resolved.",
  evidence: "Evidence",
  evidenceMap: "Where it was captured",
  noEvidence: "No evidence files on this case.",
  capturedAt: "Captured",
  place: "Place",
  downloadOriginal: "Download original",
  custody: "Chain of custody",
  declaredAt: "Declared",
  uploader: "Uploaded by",
  device: "Device",
  receivedAt: "Received",
  completedAt: "Verified",
  size: "Size",
  accesses: "Accesses",
  noAccesses: "No access yet.",
  pack: "pack",
  packs: "Evidence packs",
  noPacks: "No pack exported yet.",
  files: "files",
  requestPack: "Request evidence pack",
  packProgress: "Evidence pack progress",
  packQueued: "Queued…",
  packBuilding: "Packing: {done} / {total}",
  packFailed: "The pack failed:",
  packReady: "The pack is ready ({files} files).",
  downloadPack: "Download the pack",
};

export type Lang = "zh" | "en";
export type Key = keyof Labels;
const LABELS: Record<Lang, Labels> = { zh, en };

export function lang(): Lang {
  return localStorage.getItem("fv.lang") === "en" ? "en" : "zh";
}

export function setLang(value: Lang): void {
  localStorage.setItem("fv.lang", value);
  document.documentElement.lang = value === "zh" ? "zh-CN" : "en";
}

/** The label `key` in the chosen language, with `{name}` placeholders filled. */
export function t(key: Key, values: Record<string, string | number> = {}): string {
  return LABELS[lang()][key].replace(/\{(\w+)\}/g, (_, name) => String(values[name] ?? ""));
}

/** A label chosen by a value from the API (`status_legal`), or the value itself. */
export function tv(prefix: "status" | "kind", value: string): string {
  const key = `${prefix}_${value}` as Key;
  return key in zh ? t(key) : value;
}

/** Fen as yuan: ¥1,234.50. */
export function yuan(fen: number): string {
  return new Intl.NumberFormat(lang() === "zh" ? "zh-CN" : "en-GB", {
    style: "currency", currency: "CNY", minimumFractionDigits: 2,
  }).format(fen / 100);
}

/** A moment in the viewer's zone, or in `zone` (the debtor's, the team's). */
export function when(iso: string, zone?: string): string {
  return new Intl.DateTimeFormat(lang() === "zh" ? "zh-CN" : "en-GB", {
    dateStyle: "medium", timeStyle: "short", timeZone: zone,
  }).format(new Date(iso));
}

/** A moment in the viewer's zone and, where that differs, in `zone` too. */
export function whenBoth(iso: string, zone: string): string {
  const here = when(iso);
  const there = when(iso, zone);
  return here === there ? here : `${here} (${there} ${zone})`;
}
