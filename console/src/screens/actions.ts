// What resolves each exception, in zh and en: chosen by the item's machine-readable `action`
// (GET /exceptions), filled with its `detail` and subject. The API's English `action_text` is
// shown only for an action this console does not know yet.
import { lang, when, yuan } from "../i18n";

type Detail = Record<string, unknown>;
export interface Acted { action: string; action_text: string; detail: Detail; occurred_at: string; contract_no: string | null }

const fen = (detail: Detail, key: string) => yuan(Number(detail[key] ?? 0));
const text = (detail: Detail, key: string, none = "—") =>
  detail[key] === null || detail[key] === undefined || detail[key] === "" ? none : String(detail[key]);
const metres = (detail: Detail, key: string) =>
  detail[key] === null || detail[key] === undefined ? "?" : String(Math.round(Number(detail[key])));

const declared = (i: Acted) => Number(i.detail.photos_declared ?? 0);

const TEXTS: Record<string, [(i: Acted) => string, (i: Acted) => string]> = {
  review_location: [
    (i) => `核查外访：定位距所访地址 ${metres(i.detail, "distance_m")} 米（精度 ${metres(i.detail, "accuracy_m")} 米），超出地理围栏。`,
    (i) => `Review the visit: the GPS fix was ${metres(i.detail, "distance_m")} m from the visited address (accuracy ${metres(i.detail, "accuracy_m")} m), outside the geofence.`],
  review_visit_hours: [
    (i) => `核查外访：${text(i.detail, "local_day")} 的外访在债务人当地外访时段之外开始或结束。`,
    (i) => `Review the visit: on ${text(i.detail, "local_day")} it started or ended outside the debtor-local visit hours.`],
  arrange_second_collector: [
    () => "核查这次单人外访，下次按政策要求派第二名外访员同行。",
    () => "Review the lone visit, and send a second collector next time as the policy requires."],
  review_visit_photos: [
    (i) => (declared(i) ? `核查外访：申报的 ${declared(i)} 张照片没有一张到达服务器。` : "核查外访：没有申报任何照片。"),
    (i) => (declared(i) ? `Review the visit: none of its ${declared(i)} declared photos has reached the server.`
      : "Review the visit: it declared no photo.")],
  call_debtor: [
    (i) => `致电债务人商议承诺违约（应还 ${fen(i.detail, "due_so_far_fen")}，已还 ${fen(i.detail, "paid_toward_fen")}，承诺共 ${fen(i.detail, "total_fen")}），约定下一步。`,
    (i) => `Call the debtor about the broken promise (${fen(i.detail, "paid_toward_fen")} paid of ${fen(i.detail, "due_so_far_fen")} due so far, ${fen(i.detail, "total_fen")} promised) and agree what comes next.`],
  review_for_litigation: [
    (i) => `将违约承诺（应还 ${fen(i.detail, "due_so_far_fen")}，已还 ${fen(i.detail, "paid_toward_fen")}）加入本案诉讼材料。`,
    (i) => `Add the broken promise (${fen(i.detail, "paid_toward_fen")} paid of ${fen(i.detail, "due_so_far_fen")} due) to the case's litigation file.`],
  remind_debtor: [
    (i) => `提醒债务人：今日（${text(i.detail, "due_on")}）应还承诺款 ${fen(i.detail, "amount_fen")}，已还 ${fen(i.detail, "paid_toward_fen")}。`,
    (i) => `Remind the debtor that ${fen(i.detail, "amount_fen")} promised is due today (${text(i.detail, "due_on")}); ${fen(i.detail, "paid_toward_fen")} paid so far.`],
  sync_device: [
    (i) => `在手机「${text(i.detail, "label")}」（${text(i.detail, "platform")}）上打开应用并同步（或重新登录）；最后同步：${when(i.occurred_at)}。`,
    (i) => `Open the app on the phone "${text(i.detail, "label")}" (${text(i.detail, "platform")}) and sync (or sign in again); last synced ${when(i.occurred_at)}.`],
  review_proposal: [
    (i) => `审核现场提交的${PROPOSALS[text(i.detail, "proposal_kind")]?.[0] ?? "信息"}：接受或拒绝。`,
    (i) => `Accept or reject the proposed ${PROPOSALS[text(i.detail, "proposal_kind")]?.[1] ?? "detail"}.`],
  finish_upload: [
    (i) => `在有网络的地方打开应用，让未上传的文件（${text(i.detail, "file_kind")}）传完。`,
    (i) => `Open the app on a network so the pending file (${text(i.detail, "file_kind")}) finishes uploading.`],
  repair_server_file: [
    (i) => `服务器重试后仍未能生成文件（${text(i.detail, "file_kind")}）：${sentence(i.detail, "error")}。外访员无需处理；管理员排除原因（存储、磁盘、记录数据）后点「重新生成」。`,
    (i) => `The server could not make the file (${text(i.detail, "file_kind")}) after retrying: ${sentence(i.detail, "error")}. Nobody in the field need act; an administrator repairs the cause (store, disk, the record's data), then presses "Make it again".`],
};
const PROPOSALS: Record<string, [string, string]> = {
  phone: ["电话", "phone"], address: ["地址", "address"], contact: ["联系人", "contact"],
};

/** A fact that is a sentence of its own, without its full stop (the text puts one). */
function sentence(detail: Record<string, unknown>, key: string): string {
  return text(detail, key).replace(/[.。]\s*$/, "");
}

/** The action's sentence in the viewer's language. */
export function actionText(item: Acted): string {
  const texts = TEXTS[item.action];
  return texts ? texts[lang() === "zh" ? 0 : 1](item) : item.action_text;
}
