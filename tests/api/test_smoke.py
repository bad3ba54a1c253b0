def test_login_and_me(world, client):
    user = world.user("collector")
    headers = world.login(user)
    response = client.get("/auth/me", headers=headers)
    assert response.status_code == 200
    assert response.get_json()["username"] == user.username


def test_case_detail_for_assigned_collector(world, client):
    collector = world.user("collector")
    case = world.case(collector=collector)
    response = client.get(f"/cases/{case.id}", headers=world.login(collector))
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["debtor"]["masked"] is False
